import { PassThrough } from 'node:stream'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { JobEntry } from '../catalog.js'
import { formatEventCursor, parseEventCursor, type Lifecycle, type StoredEvent } from '../lifecycle/index.js'
import { HEARTBEAT, HEARTBEAT_MS, sseEvent } from '../live/sse.js'
import { maySeeTenant } from '../policy/run-access.js'
import type { Caller } from '../policy/run-policy.js'
import { errorResponses } from '../schemas/error.js'
import { ResourceName } from '../schemas/names.js'
import type { RouteContext } from './context.js'

const DESCRIPTION = [
  'Server-sent events of every run the caller may see, as they happen: `event:` is the CloudEvents type',
  '(`jobgate.run.started`, `jobgate.run.finished`), `data:` the event in CloudEvents structured mode (JSON, the Run as',
  '`data`), `id:` a resume cursor. Send `Last-Event-ID` to resume after an event without repeats, within 24 hours;',
  'an older cursor first gets one `gap` event (events were missed: list runs to catch up). A `: heartbeat` comment',
  'comes every 15 s. `?job=` follows one job.'
].join(' ')

export interface FirehoseContext extends RouteContext {
  lifecycle: Lifecycle
  /** ce-source of the events: this service. */
  source: string
}

/** One event in CloudEvents' structured mode (JSON). */
const structured = (event: StoredEvent, source: string): Record<string, unknown> => ({
  specversion: '1.0',
  id: event.id,
  source,
  type: event.type,
  subject: event.subject,
  time: event.time,
  datacontenttype: 'application/json',
  data: event.data
})

/** The jobs whose events `caller` sees (only `job` when given), with the run-level tenant rule of every other run route. */
function eventFilter (jobs: readonly JobEntry[], caller: Caller): (event: StoredEvent) => boolean {
  const byId = new Map(jobs.map(entry => [entry.id, entry]))
  return event => {
    const entry = byId.get(event.job)
    return entry !== undefined && maySeeTenant(entry, caller, event.tenant)
  }
}

export const eventRoutes: FastifyPluginAsyncTypebox<FirehoseContext> = async (app, { access, lifecycle, live, source, waits, budgets }) => {
  app.get('/v1/events', {
    // A connection (not each event) spends one read of the caller's JOBGATE_READ_RATE_LIMIT.
    preHandler: budgets.reads,
    schema: {
      summary: 'Follow every run the caller may see: started and finished events as server-sent events',
      description: DESCRIPTION,
      querystring: Type.Object({
        job: Type.Optional(ResourceName)
      }, { additionalProperties: false }),
      headers: Type.Object({
        'last-event-id': Type.Optional(Type.String({ maxLength: 300, description: 'the id of the last event received: resume after it' }))
      }),
      response: {
        200: { description: DESCRIPTION, content: { 'text/event-stream': { schema: Type.String() } } },
        ...errorResponses(400, 401, 403, 404, 429)
      }
    }
  }, async (request, reply) => {
    const { caller } = request
    const jobs = request.query.job === undefined ? access.visibleTo(caller) : [access.entryFor(request.query.job, caller)]
    const cursor = parseEventCursor(request.headers['last-event-id'])
    // A stream holds one of the caller's slots for held requests (JOBGATE_MAX_WAITS) until it closes.
    const release = waits.acquire(caller)
    const body = new PassThrough()
    const write = (chunk: string): void => { if (body.writable) body.write(chunk) }
    const visible = eventFilter(jobs, caller)
    const stop = lifecycle.feed.follow(cursor, {
      events: events => {
        for (const event of events) if (visible(event)) write(sseEvent(event.type, structured(event, source), formatEventCursor(event)))
      },
      gap: horizon => {
        write(sseEvent('gap', { message: 'events older than the retention window were not kept; list runs to catch up', horizon }))
      }
    })
    const heartbeat = setInterval(() => { write(HEARTBEAT) }, HEARTBEAT_MS)
    heartbeat.unref()
    const stream = {
      shutdown: (): void => {
        clearInterval(heartbeat)
        stop()
        release()
        live.streams.delete(stream)
        body.end()
      }
    }
    // Ended by the client leaving, or by the server shutting down (the client resumes elsewhere with Last-Event-ID).
    reply.raw.once('close', stream.shutdown)
    live.streams.add(stream)
    // The first bytes go out at once, so a client knows the stream is open before any event.
    write(': following\n\n')
    return await reply
      .header('content-type', 'text/event-stream; charset=utf-8')
      .header('cache-control', 'no-cache, no-transform')
      .header('x-accel-buffering', 'no')
      .send(body as unknown as string)
  })
}
