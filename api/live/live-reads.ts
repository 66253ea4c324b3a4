import { setTimeout as sleep } from 'node:timers/promises'
import type { JobEntry } from '../catalog.js'
import type { CloudRunClient } from '../cloudrun/client.js'
import type { Execution } from '../cloudrun/execution.js'
import { toRun } from '../cloudrun/mapping.js'
import { toTask } from '../cloudrun/task-mapping.js'
import { ApiError, apiErrorOf, invalidArgument } from '../errors.js'
import type { CloudLoggingClient, RunLogEntry, RunLogPage } from '../logging/client.js'
import type { Run } from '../schemas/run.js'
import type { RunTaskPage, TasksQuery } from '../schemas/tasks.js'
import type { LiveConfig } from './config.js'
import { LogTails } from './log-tail.js'
import { LOG_POLL, RUN_POLL, type PollSchedule } from './poll-schedule.js'
import { ReadBudget, type Clock, type Reader } from './read-budget.js'
import { RunWatchers, type RunAsker, type RunUpdate } from './run-watcher.js'
import { TaskReads } from './task-reads.js'

export type { RunAsker, SeeRun } from './run-watcher.js'

export interface LiveReadsOptions {
  cloudRun: Pick<CloudRunClient, 'getExecution' | 'listTasks'>
  logs: Pick<CloudLoggingClient, 'runEntries'>
  config: LiveConfig
  runEnded?: (entry: JobEntry, name: string) => Promise<unknown>
  runSchedule?: PollSchedule
  logSchedule?: PollSchedule
  /** The budgets' and caches' clock (tests pass a fake one). */
  clock?: Clock
}

/** How long a look may wait for the asker's share to allow a read, and what ends it early. */
export interface PatientLook { waitMs: number, signal?: AbortSignal }

export interface LogsQuery { since?: string, pageToken?: string, pageSize?: number, taskIndex?: number }

/** A logs page and, when the budget kept it from being current, how long until it may be. */
export interface LogsAnswer { page: RunLogPage, retryAfterSeconds?: number }

/** A 429 that waiting can cure: a spent share, or Cloud Run's own 429 (which closed the budget). */
const isSpent = (error: unknown): boolean => apiErrorOf(error)?.status === 'RESOURCE_EXHAUSTED'

/** Offsets into a list as this instance holds it (a run's log, its tasks): the page tokens those routes hand out. */
function slice<T> (items: readonly T[], query: { pageToken?: string, pageSize?: number }): { items: T[], nextPageToken?: string } {
  const token = query.pageToken
  if (token !== undefined && !/^\d{1,9}$/.test(token)) throw invalidArgument('pageToken: not a token from this route (pass the nextPageToken of the previous page)')
  const start = token === undefined ? 0 : Number(token)
  const end = start + (query.pageSize ?? 100)
  return end < items.length ? { items: items.slice(start, end), nextPageToken: String(end) } : { items: items.slice(start, end) }
}

function pageOf (entries: readonly RunLogEntry[], query: LogsQuery): RunLogPage {
  const sinceMs = query.since === undefined ? Number.NaN : Date.parse(query.since)
  const ofTask = (entry: RunLogEntry): boolean => query.taskIndex === undefined || entry.taskIndex === query.taskIndex
  const matching = entries.filter(entry => !(Date.parse(entry.timestamp) < sinceMs) && ofTask(entry))
  const { items, nextPageToken } = slice(matching, query)
  return nextPageToken === undefined ? { entries: items } : { entries: items, nextPageToken }
}

/**
 * Run state and logs as every route reads them: through one watcher and one log tail per
 * execution, within the instance's read budgets, from the finished caches when a run is over.
 */
export class LiveReads {
  readonly runBudget: ReadBudget
  readonly logBudget: ReadBudget
  readonly runs: RunWatchers
  readonly logs: LogTails
  readonly tasks: TaskReads
  /** Open event streams, ended when the server shuts down. */
  readonly streams = new Set<{ shutdown: () => void }>()

  constructor (options: LiveReadsOptions) {
    const clock = options.clock ?? Date
    this.runBudget = new ReadBudget(options.config.runReadsPerMinute, clock)
    this.logBudget = new ReadBudget(options.config.loggingReadsPerMinute, clock)
    this.runs = new RunWatchers({
      cloudRun: options.cloudRun,
      budget: this.runBudget,
      now: () => clock.now(),
      schedule: options.runSchedule ?? RUN_POLL,
      ...(options.runEnded !== undefined && { runEnded: options.runEnded })
    })
    this.tasks = new TaskReads({ cloudRun: options.cloudRun, callCloudRun: async (reader, call) => await this.callCloudRun(reader, call) })
    this.logs = new LogTails({
      logs: options.logs,
      budget: this.logBudget,
      runs: this.runs,
      graceMs: options.config.logGraceMs,
      schedule: options.logSchedule ?? LOG_POLL
    })
  }

  /** A plain read of a run. */
  async readRun (entry: JobEntry, name: string, asker: RunAsker): Promise<Run> {
    return toRun(entry.id, await this.runs.look(entry, name, asker))
  }

  /**
   * The run as `asker` may see it, waiting (until `waitMs` passes or `signal` aborts) while its share
   * of the budget is spent: how `?wait` and event streams begin, so they answer the same whether a
   * name is missing, another tenant's or cached.
   */
  async lookPatiently (entry: JobEntry, name: string, asker: RunAsker, options: PatientLook): Promise<Execution> {
    const deadline = Date.now() + options.waitMs
    for (;;) {
      try {
        return await this.runs.look(entry, name, asker)
      } catch (error) {
        const left = deadline - Date.now()
        if (!isSpent(error) || left <= 0 || options.signal?.aborted === true) throw error
        const retryMs = (apiErrorOf(error)?.retryAfterSeconds ?? 1) * 1000
        await sleep(Math.min(left, retryMs), undefined, options.signal === undefined ? {} : { signal: options.signal }).catch(() => {})
      }
    }
  }

  /** Holds until the run ends, `waitMs` passes or `signal` aborts; answers with the latest run seen. */
  async waitRun (entry: JobEntry, name: string, options: { waitMs: number, signal?: AbortSignal, asker: RunAsker }): Promise<Run> {
    const startedAt = Date.now()
    const first = await this.lookPatiently(entry, name, options.asker, options)
    const waitMs = options.waitMs - (Date.now() - startedAt)
    if (waitMs <= 0 || options.signal?.aborted === true) return toRun(entry.id, first)
    const { reader, see } = options.asker
    const execution = await new Promise<Execution>((resolve, reject) => {
      let latest: Execution = first
      let done = false
      const finish = (error?: ApiError): void => {
        if (done) return
        done = true
        clearTimeout(timer)
        options.signal?.removeEventListener('abort', onAbort)
        unsubscribe()
        if (error === undefined) resolve(latest)
        else reject(error)
      }
      const onAbort = (): void => { finish() }
      const timer = setTimeout(onAbort, waitMs)
      options.signal?.addEventListener('abort', onAbort, { once: true })
      const unsubscribe = this.runs.subscribe(entry, name, (update: RunUpdate) => {
        // The run is known and visible: failures and spent shares only delay the answer.
        if (update.kind !== 'run') return
        try {
          latest = see(update.execution)
        } catch (error) {
          finish(error as ApiError)
          return
        }
        if (update.ended) finish()
      }, () => [reader])
    })
    return toRun(entry.id, execution)
  }

  /** A page of a run's logs: from the finished cache, or from the run's shared tail. */
  async readLogs (entry: JobEntry, name: string, query: LogsQuery, asker: RunAsker): Promise<LogsAnswer> {
    await this.runs.look(entry, name, asker)
    const finished = this.logs.finishedLog(entry, name)
    if (finished !== undefined) return { page: pageOf(finished, query) }
    const tail = await this.logs.read(entry, name, asker.reader)
    if (tail.error !== undefined) throw tail.error
    if (!tail.loaded) throw this.logBudget.spent('Cloud Logging', asker.reader)
    const page = pageOf(tail.entries, query)
    return tail.behind ? { page, retryAfterSeconds: this.logBudget.retryAfterSeconds(asker.reader) } : { page }
  }

  /**
   * One Cloud Run call (`calls` upstream requests) on `reader`'s share of the Cloud Run budget, for
   * what no watcher shares: a page of the runs list, a cancel, a run's tasks; and jobgate's own reads
   * (JOBGATE_READER). A spent share is a 429; Cloud Run's own 429 closes the budget.
   */
  async callCloudRun<T> (reader: Reader, call: () => Promise<T>, calls = 1): Promise<T> {
    if (!this.runBudget.tryTake(reader, calls)) throw this.runBudget.spent('Cloud Run', reader)
    try {
      const result = await call()
      this.runBudget.succeeded()
      return result
    } catch (error) {
      const failure = apiErrorOf(error)
      if (failure?.status === 'RESOURCE_EXHAUSTED') this.runBudget.rateLimited(failure.retryAfterSeconds)
      throw error
    }
  }

  /** A page of a run's tasks, by index: read after the run itself, so another tenant's run is a 404 as everywhere. */
  async readTasks (entry: JobEntry, name: string, query: TasksQuery, asker: RunAsker): Promise<RunTaskPage> {
    const execution = await this.runs.look(entry, name, asker)
    const tasks = (await this.tasks.read(entry, execution, asker.reader)).map(task => toTask(entry.id, name, task))
    const { items, nextPageToken } = slice(tasks.filter(task => query.state === undefined || task.state === query.state), query)
    return nextPageToken === undefined ? { tasks: items } : { tasks: items, nextPageToken }
  }

  /** An execution jobgate just got from Cloud Run (a start, a cancel): watchers and caches learn of it. */
  observe (entry: JobEntry, execution: Execution): void {
    this.runs.observe(entry, execution)
  }

  /** Ends every open event stream (their clients reconnect with Last-Event-ID). */
  endStreams (): void {
    for (const stream of [...this.streams]) stream.shutdown()
  }

  close (): void {
    this.endStreams()
    this.logs.close()
    this.runs.close()
  }
}
