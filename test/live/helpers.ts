import type { RecordedRequest } from '../../emulator/index.js'
import { build, type Built } from '../helper.js'

export type LocalStack = Built

/** jobgate in local mode (embedded emulator, production clients) on a free port, as `npm start` runs it. */
export async function localStack (t: Teardown, env: Record<string, string> = {}): Promise<LocalStack> {
  // Tests here count upstream calls: the per-caller read rate limit (a different guard) stays out of the way.
  return await build(t, { env: { JOBGATE_MODE: 'local', JOBGATE_READ_RATE_LIMIT: '1000000', ...env }, listen: true })
}

interface Teardown { teardown: (fn: () => Promise<void> | void) => void }

/** executions.get calls for one run, in the emulator's request log. */
export const runReads = (requests: readonly RecordedRequest[], run: string): number =>
  requests.filter(request => request.method === 'GET' && request.path.endsWith(`/executions/${run}`)).length

/** entries:list calls for one run's log. */
export const logReads = (requests: readonly RecordedRequest[], run: string): number =>
  requests.filter(request => request.method === 'POST' && request.path.endsWith('/v2/entries:list') && JSON.stringify(request.body ?? '').includes(run)).length

/** Starts an echo run that sleeps `sleepMs` after echoing. */
export async function startRun (stack: LocalStack, sleepMs: number): Promise<string> {
  const response = await fetch(`${stack.url}/v1/jobs/echo/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ args: ['live'], env: { ECHO_SLEEP_MS: String(sleepMs) } })
  })
  const run = await response.json() as { name: string }
  if (response.status !== 202) throw new Error(`start failed: ${JSON.stringify(run)}`)
  return run.name
}

export interface SseEvent { event: string, id?: string, data: any }

/** Parses server-sent events as they come; resolves with all of them when the stream ends. */
export async function readEvents (
  response: Response,
  onEvent: (event: SseEvent) => void = () => {}
): Promise<{ events: SseEvent[], comments: string[] }> {
  const events: SseEvent[] = []
  const comments: string[] = []
  const decoder = new TextDecoder()
  let buffer = ''
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true })
    let end
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const fields: Record<string, string> = {}
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) {
          comments.push(line)
          continue
        }
        const at = line.indexOf(': ')
        fields[line.slice(0, at)] = line.slice(at + 2)
      }
      if (fields.event === undefined) continue
      const event: SseEvent = {
        event: fields.event,
        data: JSON.parse(fields.data ?? 'null'),
        ...(fields.id !== undefined && { id: fields.id })
      }
      events.push(event)
      onEvent(event)
    }
  }
  return { events, comments }
}
