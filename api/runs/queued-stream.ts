import { PassThrough, type Readable } from 'node:stream'
import type { JobEntry } from '../catalog.js'
import { HEARTBEAT, HEARTBEAT_MS, sseEvent } from '../live/sse.js'
import type { Run } from '../schemas/run.js'
import type { QueueView, QueueWatch } from './queue-watch.js'
import { runOfView } from './queued-runs.js'

/** The event stream of the run's execution, once it has one: what follows on the same connection. */
export interface ExecutionStream {
  readonly body: Readable
  close: () => void
}

export interface QueuedStreamOptions {
  watch: QueueWatch
  entry: JobEntry
  /** The queued run's name. */
  id: string
  /** Its Run as the route read it: the first event. */
  run: Run
  /** Once admitted: its execution's stream (a rejection ends this stream; the client's reconnect gets the error). */
  started: (execution: string) => Promise<ExecutionStream>
  /** Open streams, ended when the server shuts down. */
  streams: Set<{ shutdown: () => void }>
  heartbeatMs?: number
}

/**
 * The event stream of a run still waiting in its job's queue: `run` at once, `run` again whenever its place
 * changes (or it turns PENDING as its admission starts it), then its execution's events once it started, or
 * `end` when it ended unstarted (cancelled, timed out). Its places come from jobgate's records (QueueWatch).
 */
export class QueuedRunStream {
  readonly body = new PassThrough()
  readonly #options: QueuedStreamOptions
  readonly #unwatch: () => void
  readonly #heartbeat: NodeJS.Timeout
  #last: string
  #execution: ExecutionStream | undefined
  #admitted = false
  #closed = false

  constructor (options: QueuedStreamOptions) {
    this.#options = options
    options.streams.add(this)
    this.#last = sseEvent('run', options.run)
    this.body.write(this.#last)
    this.#heartbeat = setInterval(() => { this.#write(HEARTBEAT) }, options.heartbeatMs ?? HEARTBEAT_MS)
    this.#heartbeat.unref()
    this.#unwatch = options.watch.watch(options.entry, options.id, view => { this.#seen(view) })
  }

  #seen (view: QueueView | undefined): void {
    if (this.#closed || this.#admitted) return
    // Its record is gone (a full memory store dropped it): the client's reconnect gets the run's 404.
    if (view === undefined) { this.shutdown(); return }
    const { execution, phase } = view.record
    if (execution !== undefined) { this.#follow(execution); return }
    const run = runOfView(view)
    if (phase === 'finished') {
      this.#write(sseEvent('end', run))
      this.shutdown()
      return
    }
    const event = sseEvent('run', run)
    if (event === this.#last) return
    this.#last = event
    this.#write(event)
  }

  /** Admitted: the execution's own stream carries on, on this connection. */
  #follow (execution: string): void {
    this.#admitted = true
    this.#unwatch()
    this.#options.started(execution).then(stream => {
      if (this.#closed) { stream.close(); return }
      this.#execution = stream
      clearInterval(this.#heartbeat)
      stream.body.pipe(this.body)
    }, () => { this.shutdown() })
  }

  #write (chunk: string): void {
    if (!this.#closed && this.body.writable) this.body.write(chunk)
  }

  /** Ends the stream (the server is shutting down, or there is nothing more to follow). */
  shutdown (): void {
    this.close()
    this.body.end()
  }

  /** Stops everything this stream holds: its place in the watch, its heartbeat, its execution's stream. */
  close (): void {
    if (this.#closed) return
    this.#closed = true
    this.#options.streams.delete(this)
    clearInterval(this.#heartbeat)
    this.#unwatch()
    this.#execution?.close()
  }
}
