import type { Readable } from 'node:stream'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { Type } from 'typebox'
import { ApiError } from '../errors.js'
import { RunEventStream } from '../live/run-stream.js'
import { parseCursor, sseEvent } from '../live/sse.js'
import { READ_ERRORS } from '../schemas/error.js'
import { RunParams } from '../schemas/run.js'
import type { RouteContext } from './context.js'

const STREAM_DESCRIPTION = [
  'Server-sent events: `run` (the Run, first as it is, then on every change), `log` (one log entry, once, in order;',
  'its `id` is a resume cursor), a `: heartbeat` comment every 15 s, and `end` (the final Run) once the run ended and',
  'its log is drained; then the stream closes. Send `Last-Event-ID` to resume after a log event without repeats.'
].join(' ')

export const runEventRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, { access, live, askerFor, waits, budgets, queued }) => {
  app.get('/v1/jobs/:job/runs/:run/events', {
    // A connection (not each event) spends one read of the caller's JOBGATE_READ_RATE_LIMIT.
    preHandler: budgets.reads,
    schema: {
      summary: 'Follow a run live: its state changes and log lines as server-sent events',
      description: STREAM_DESCRIPTION,
      params: RunParams,
      querystring: Type.Object({
        logs: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')], { description: '"false": run events only (no Cloud Logging reads); default "true"' }))
      }, { additionalProperties: false }),
      headers: Type.Object({
        'last-event-id': Type.Optional(Type.String({ maxLength: 200, description: 'the id of the last log event received: resume after it; an id jobgate did not write is a 400' }))
      }),
      response: {
        200: { description: STREAM_DESCRIPTION, content: { 'text/event-stream': { schema: Type.String() } } },
        ...READ_ERRORS
      }
    }
  }, async (request, reply) => {
    const entry = access.entryFor(request.params.job, request.caller)
    const cursor = parseCursor(request.headers['last-event-id'])
    // A stream holds one of the caller's slots for held requests (JOBGATE_MAX_WAITS) until it closes.
    const release = waits.acquire(request.caller)
    const gone = new AbortController()
    // A client that leaves ends its subscription, whether before the first event or after.
    reply.raw.once('close', () => { gone.abort(); release() })
    let stream: RunEventStream
    try {
      // A queued run's stream begins when it starts; one that ended unstarted has only its end.
      const untilStarted = { waitMs: Number.POSITIVE_INFINITY, signal: gone.signal }
      const resolved = await queued.resolve(entry, request.caller, request.params.run, untilStarted)
      if (gone.signal.aborted) throw new ApiError('CANCELLED', 'the client left before the stream began')
      if ('unstarted' in resolved) {
        release()
        return await sendEventStream(reply, sseEvent('end', await queued.runOf(resolved.unstarted)))
      }
      const name = resolved.execution
      const asker = askerFor(entry, request.caller, name)
      // The run as this caller may see it first, as every run route does (waiting while its read share is spent).
      await live.lookPatiently(entry, name, asker, { waitMs: Number.POSITIVE_INFINITY, signal: gone.signal })
      if (gone.signal.aborted) throw new ApiError('CANCELLED', 'the client left before the stream began')
      stream = new RunEventStream({ live, entry, name, asker, cursor, logs: request.query.logs !== 'false' })
      stream.body.once('close', release)
      reply.raw.once('close', () => { stream.close() })
      await stream.ready
    } catch (error) {
      release()
      throw error
    }
    return await sendEventStream(reply, stream.body)
  })
}

async function sendEventStream (reply: FastifyReply, body: Readable | string): Promise<FastifyReply> {
  return await reply
    .header('content-type', 'text/event-stream; charset=utf-8')
    .header('cache-control', 'no-cache, no-transform')
    .header('x-accel-buffering', 'no')
    // The typed reply knows the JSON schemas only; the 200 is this stream.
    .send(body as unknown as string)
}
