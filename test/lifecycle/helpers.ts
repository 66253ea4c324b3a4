import { readEvents, type SseEvent } from '../live/helpers.js'
import { until } from '../events/helpers.js'

export { until }

/** A client of `GET /v1/events` that keeps every event it received until closed. */
export class EventFollower {
  readonly events: SseEvent[] = []
  readonly status: number
  readonly #controller: AbortController
  readonly done: Promise<unknown>

  constructor (response: Response, controller: AbortController) {
    this.status = response.status
    this.#controller = controller
    this.done = readEvents(response, event => { this.events.push(event) }).catch(() => {})
  }

  /** Opens the stream and resolves once it answered (status 200: following). */
  static async open (url: string, headers: Record<string, string> = {}): Promise<EventFollower> {
    const controller = new AbortController()
    const response = await fetch(`${url}/v1/events${headers.job === undefined ? '' : `?job=${headers.job}`}`, {
      headers: Object.fromEntries(Object.entries(headers).filter(([name]) => name !== 'job')),
      signal: controller.signal
    })
    return new EventFollower(response, controller)
  }

  /** The run events received (not `gap`), as [type, subject] pairs. */
  get received (): Array<[string, string]> {
    return this.events.filter(event => event.event !== 'gap').map(event => [event.event, event.data.subject as string])
  }

  of (run: string): SseEvent[] {
    return this.events.filter(event => event.data?.subject?.endsWith(`/runs/${run}`) === true)
  }

  async waitFor (check: (events: SseEvent[]) => boolean, what: string, timeoutMs = 60_000): Promise<void> {
    await until(() => check(this.events), timeoutMs, what)
  }

  close (): void {
    this.#controller.abort()
  }
}

/** Every (type, subject) pair of `events`, counted: exactly-once checks compare these with 1. */
export function countsOf (pairs: ReadonlyArray<readonly [string, string]>): Map<string, number> {
  const counts = new Map<string, number>()
  for (const [type, subject] of pairs) counts.set(`${type} ${subject}`, (counts.get(`${type} ${subject}`) ?? 0) + 1)
  return counts
}
