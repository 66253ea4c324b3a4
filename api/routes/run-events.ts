import type { Readable } from 'node:stream'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { Type } from 'typebox'
import { ApiError } from '../errors.js'
import { RunEventStream } from '../live/run-stream.js'
import { parseCursor, sseEvent } from '../live/sse.js'
import { QueuedRunStream } from '../runs/queued-stream.js'
import { READ_ERRORS } from '../schemas/error.js'
import { RunParams } from '../schemas/run.js'
import type { RouteContext } from './context.js'

const STREAM_DESCRIPTION = [
  'Server-sent events: `run` (the Run, first as it is, then on every change: a queued run\'s whenever its `position`',
  'changes), `log` (one log entry, once, in order; its `id` is a resume cursor), a `: heartbeat` comment every 15 s, and',
  '`end` (the final Run) once the run ended and its log is drained; then the stream closes. Send `Last-Event-ID` to',
  'resume after a log event without repeats.'
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
    /**
     * The stream of an execution: the run as this caller may see it first, as every run route does (waiting while its
     * read share is spent).
     */
    const follow = async (name: string): Promise<RunEventStream> => {
      const asker = askerFor(entry, request.caller, name)
      await live.lookPatiently(entry, name, asker, { waitMs: Number.POSITIVE_INFINITY, signal: gone.signal })
      if (gone.signal.aborted) throw new ApiError('CANCELLED', 'the client left before the stream began')
      const stream = new RunEventStream({ live, entry, name, asker, cursor, logs: request.query.logs !== 'false' })
      stream.body.once('close', release)
      reply.raw.once('close', () => { stream.close() })
      await stream.ready
      return stream
    }
    let body: Readable | string
    try {
      const resolved = await queued.resolve(entry, request.caller, request.params.run)
      if (!('unstarted' in resolved)) body = (await follow(resolved.execution)).body
      else if (resolved.unstarted.phase === 'finished') {
        // A run that ended unstarted has only its end.
        release()
        body = sseEvent('end', await queued.runOf(resolved.unstarted))
      } else {
        // A queued run: its place as the queue moves, then its execution's events on the same connection.
        const run = await queued.runOf(resolved.unstarted)
        const waiting = new QueuedRunStream({
          watch: queued.watch, entry, id: resolved.unstarted.id, run, started: follow, streams: live.streams
        })
        waiting.body.once('close', release)
        reply.raw.once('close', () => { waiting.close() })
        body = waiting.body
      }
    } catch (error) {
      release()
      throw error
    }
    return await sendEventStream(reply, body)
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
