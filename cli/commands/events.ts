import { ApiResponseError, toFailure } from '../api-client.js'
import { positiveInteger, stringValue } from '../args.js'
import type { Context } from '../context.js'
import type { StreamEvent } from '../event-stream.js'
import { backoffDelayMs, sleep } from '../retry.js'
import { describeCounts } from '../progress.js'
import { shortTime } from '../table.js'
import type { Batch, Run } from '../types.js'
import type { CommandModule } from './index.js'
import { taskTally } from './runs.js'

interface EventsOptions { job?: string | undefined, after?: string | undefined, count?: number | undefined }

/** A run event as GET /v1/events sends it: a CloudEvent in structured mode, the Run as its data (a Batch for `jobgate.batch.finished`). */
interface RunEvent { id: string, type: string, subject: string, time: string, data: Run | Batch }

const isBatch = (data: Run | Batch): data is Batch => 'counts' in data

/** Failed reconnects in a row before giving up, as the run stream allows. */
const MAX_RECONNECTS = 8

/** One line per event for people: time, what happened, the job and run, and where the run stands. */
function eventLine (event: RunEvent): string {
  const { data } = event
  const what = event.type.replace(/^jobgate\.(run|batch)\./, '')
  const tally = isBatch(data) ? `batch: ${describeCounts(data)}` : `tasks ${taskTally(data)}`
  return [shortTime(event.time), what.padEnd(8), `${data.job}/${data.name}`, data.state, tally].join('  ')
}

/**
 * `jobgate events`: follows every run event the caller may see until Ctrl-C (or --count events). A dropped
 * connection is resumed after the last event printed (Last-Event-ID), so none is printed twice or missed.
 */
async function eventsCommand (options: EventsOptions, ctx: Context): Promise<number> {
  let lastEventId = options.after
  let printed = 0
  let failures = 0
  if (!ctx.json) ctx.terminal.err(`Following run events${options.job === undefined ? '' : ` of job ${options.job}`} (Ctrl-C to stop).`)
  for (;;) {
    try {
      const events = await ctx.client.streamRunEvents({ job: options.job, lastEventId, signal: ctx.signal })
      for await (const event of events) {
        failures = 0
        if (event.event === 'gap') {
          ctx.terminal.err('jobgate: some events were older than the server keeps and are missed; list runs (jobgate runs JOB) to catch up.')
          continue
        }
        print(event, ctx)
        if (event.id !== undefined) lastEventId = event.id
        if (++printed === options.count) return 0
      }
      throw toFailure(Object.assign(new Error('the event stream ended'), { code: 'STREAM_CLOSED' }))
    } catch (error) {
      if (ctx.signal?.aborted === true) throw error
      const failure = toFailure(error)
      const retryable = !(failure instanceof ApiResponseError) || [429, 502, 503, 504].includes(failure.httpStatus)
      if (!retryable || ++failures > MAX_RECONNECTS) throw failure
      const delay = backoffDelayMs(ctx.client.retryPolicy, failures, failure instanceof ApiResponseError ? failure.retryAfterMs : undefined)
      ctx.client.notifyRetry(`event stream: ${failure.message}; reconnecting in ${(delay / 1000).toFixed(1)}s`)
      await sleep(delay, ctx.signal)
    }
  }
}

/** --json: one CloudEvent per line, with its resume cursor as the extension attribute `jobgatecursor`. */
function print (stream: StreamEvent, ctx: Context): void {
  const event = JSON.parse(stream.data) as RunEvent
  if (ctx.json) ctx.terminal.out(JSON.stringify({ ...event, ...(stream.id !== undefined && { jobgatecursor: stream.id }) }))
  else ctx.terminal.out(eventLine(event))
}

export const command: CommandModule<EventsOptions> = {
  prepare: input => ({ job: stringValue(input, 'job'), after: stringValue(input, 'after'), count: positiveInteger(input, 'count') }),
  execute: eventsCommand
}
