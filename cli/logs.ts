import type { ApiClient } from './api-client.js'
import type { LogEntry } from './types.js'

/** Payload keys that repeat what the line already shows, or Cloud Logging bookkeeping. */
const shownElsewhere = new Set(['message', 'severity', 'timestamp', 'time', 'taskIndex', 'textPayload'])
const maxPayloadChars = 2000

/** The entry's time in UTC to the millisecond (Cloud Logging may send nanoseconds or an offset), as written when unreadable. */
const utc = (timestamp: string): string => {
  const at = Date.parse(timestamp)
  return Number.isNaN(at) ? timestamp : new Date(at).toISOString()
}

/**
 * `[task 0] INFO env env={"RELEASE":"v42"}`: who, how bad, what, then the payload's own fields compactly;
 * with `timestamps`, the entry's time first.
 */
export function formatLogEntry (entry: LogEntry, options: { timestamps?: boolean } = {}): string {
  const who = typeof entry.taskIndex === 'number' ? `task ${entry.taskIndex}` : 'run'
  const parts = [`[${who}]`, entry.severity ?? 'DEFAULT']
  if (options.timestamps === true) parts.unshift(utc(entry.timestamp))
  if (entry.message !== undefined && entry.message !== '') parts.push(entry.message)
  const extra = Object.entries(entry.payload ?? {})
    .filter(([key]) => !shownElsewhere.has(key) && !key.startsWith('logging.googleapis.com/'))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ')
  if (extra !== '') parts.push(extra.length > maxPayloadChars ? `${extra.slice(0, maxPayloadChars)}…` : extra)
  return parts.join(' ')
}

/** The identity of an entry across pages and polls: its insertId, else everything it says. */
export const entryKey = (entry: LogEntry): string =>
  entry.insertId ?? JSON.stringify([entry.timestamp, entry.taskIndex, entry.severity, entry.message, entry.payload])

/** A pass stops after this many pages even if the server keeps offering more (a guard, not a limit in practice). */
const maxPagesPerPass = 1000

/** Lines can reach Cloud Logging late and out of order: each pass re-reads this far behind the newest one seen. */
export const LATE_ARRIVAL_MS = 30_000

/**
 * Prints a run's entries as they appear. Each `drain()` reads the pages from a little before the
 * newest entry seen (`since`, so a long run does not cost a full re-read per poll) and prints only
 * what earlier passes did not: entries are counted per key (which includes the timestamp, so every
 * copy of a key is inside the window), and two genuinely identical lines still both print, once each.
 */
export class LogFollower {
  readonly #client: ApiClient
  readonly #job: string
  readonly #run: string
  readonly #print: (entry: LogEntry) => void
  readonly #printed = new Map<string, number>()
  #newestMs = Number.NEGATIVE_INFINITY

  constructor (client: ApiClient, job: string, run: string, print: (entry: LogEntry) => void) {
    this.#client = client
    this.#job = job
    this.#run = run
    this.#print = print
  }

  /** One full pass over the run's entries; returns how many were new. */
  async drain (signal?: AbortSignal): Promise<number> {
    const seen = new Map<string, number>()
    const tokens = new Set<string>()
    let fresh = 0
    let pageToken: string | undefined
    const since = Number.isFinite(this.#newestMs) ? new Date(this.#newestMs - LATE_ARRIVAL_MS).toISOString() : undefined
    for (let page = 0; page < maxPagesPerPass; page++) {
      const { entries = [], nextPageToken } = await this.#client.listLogs(this.#job, this.#run, pageToken, signal, since)
      for (const entry of entries) {
        const at = Date.parse(entry.timestamp ?? '')
        if (!Number.isNaN(at) && at > this.#newestMs) this.#newestMs = at
        const key = entryKey(entry)
        const occurrence = (seen.get(key) ?? 0) + 1
        seen.set(key, occurrence)
        if (occurrence > (this.#printed.get(key) ?? 0)) {
          this.#printed.set(key, occurrence)
          this.#print(entry)
          fresh++
        }
      }
      if (nextPageToken === undefined || nextPageToken === '' || tokens.has(nextPageToken)) break
      tokens.add(nextPageToken)
      pageToken = nextPageToken
    }
    return fresh
  }
}
