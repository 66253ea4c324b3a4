import { PassThrough } from 'node:stream'
import type { JobEntry } from '../catalog.js'
import type { Execution } from '../cloudrun/execution.js'
import { toRun } from '../cloudrun/mapping.js'
import type { ApiError } from '../errors.js'
import type { RunLogEntry } from '../logging/client.js'
import type { LiveReads, RunAsker } from './live-reads.js'
import type { LogTail } from './log-tail.js'
import { formatCursor, HEARTBEAT, HEARTBEAT_MS, resumeIndex, sseEvent, type Cursor } from './sse.js'

export interface RunStreamOptions {
  live: LiveReads
  entry: JobEntry
  name: string
  /** Whose share pays for the watcher's and the tail's reads, and what they may see (checked on every run event). */
  asker: RunAsker
  /** Last-Event-ID: resume the log after it. */
  cursor: Cursor | undefined
  /** false: run events only, no log tail (costs no Cloud Logging reads). */
  logs: boolean
  heartbeatMs?: number
}

/**
 * One client's event stream of one run: `run` on every change, `log` per entry with a resume
 * cursor, a heartbeat comment, and `end` once the run ended and its log is drained. `ready`
 * settles with the first run (after the tenant check), or rejects before anything was sent.
 */
export class RunEventStream {
  readonly body = new PassThrough()
  readonly ready: Promise<void>
  readonly #options: RunStreamOptions
  #execution: Execution | undefined
  #ended = false
  #sent = 0
  #resumed = false
  #closed = false
  #unsubscribeRun: (() => void) | undefined
  #tail: { tail: LogTail, stop: () => void } | undefined
  #heartbeat: NodeJS.Timeout | undefined

  constructor (options: RunStreamOptions) {
    this.#options = options
    options.live.streams.add(this)
    this.ready = new Promise<void>((resolve, reject) => {
      const { reader, see } = options.asker
      this.#unsubscribeRun = options.live.runs.subscribe(options.entry, options.name, update => {
        if (this.#closed) return
        if (update.kind === 'error') {
          // Before the first run nothing was sent: the route answers with the error instead.
          if (this.#execution === undefined && update.error.status !== 'RESOURCE_EXHAUSTED') { this.close(); reject(update.error) }
          return
        }
        let execution: Execution
        try {
          execution = see(update.execution)
        } catch (error) {
          this.close()
          reject(error as ApiError)
          return
        }
        const first = this.#execution === undefined
        this.#execution = execution
        this.#ended = update.ended
        this.#write(sseEvent('run', toRun(options.entry.id, execution)))
        if (first) { this.#begin(); resolve() }
        this.#pump()
      }, () => [reader])
    })
    // Nobody awaits a rejection after close; keep it from being unhandled.
    this.ready.catch(() => {})
  }

  #begin (): void {
    const { live, entry, name } = this.#options
    this.#heartbeat = setInterval(() => { this.#write(HEARTBEAT) }, this.#options.heartbeatMs ?? HEARTBEAT_MS)
    this.#heartbeat.unref()
    if (!this.#options.logs) return
    const finished = live.logs.finishedLog(entry, name)
    if (finished !== undefined) { this.#sendLog(finished, true); return }
    this.#tail = live.logs.follow(entry, name, this.#options.asker.reader, () => { this.#pump() })
  }

  /** Sends what is new in the log, then `end` when both the run and its log are over. */
  #pump (): void {
    if (this.#closed || this.#execution === undefined) return
    if (!this.#options.logs) { if (this.#ended) this.#end(); return }
    const tail = this.#tail?.tail
    if (tail === undefined) return
    if (tail.error !== undefined) { this.#end(); return }
    if (!tail.loaded) return
    this.#sendLog(tail.entries, tail.complete)
  }

  #sendLog (entries: readonly RunLogEntry[], complete: boolean): void {
    if (!this.#resumed) {
      this.#sent = resumeIndex(entries, this.#options.cursor)
      this.#resumed = true
    }
    for (; this.#sent < entries.length; this.#sent++) {
      const entry = entries[this.#sent] as RunLogEntry
      this.#write(sseEvent('log', entry, formatCursor(this.#sent + 1, entry)))
    }
    if (complete && this.#ended) this.#end()
  }

  #end (): void {
    if (this.#execution !== undefined) this.#write(sseEvent('end', toRun(this.#options.entry.id, this.#execution)))
    this.close()
    this.body.end()
  }

  /** The server is shutting down: end the stream; the client resumes elsewhere with Last-Event-ID. */
  shutdown (): void {
    this.close()
    this.body.end()
  }

  #write (chunk: string): void {
    if (!this.#closed && this.body.writable) this.body.write(chunk)
  }

  /** Stops everything this stream holds: its watcher and tail interest, its heartbeat. */
  close (): void {
    if (this.#closed) return
    this.#closed = true
    this.#options.live.streams.delete(this)
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat)
    this.#unsubscribeRun?.()
    this.#tail?.stop()
  }
}
