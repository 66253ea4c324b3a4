import type { JobEntry } from '../catalog.js'
import type { CloudRunClient } from '../cloudrun/client.js'
import type { Execution } from '../cloudrun/execution.js'
import { toRun } from '../cloudrun/mapping.js'
import { toTask } from '../cloudrun/task-mapping.js'
import { ApiError, invalidArgument } from '../errors.js'
import type { CloudLoggingClient, RunLogEntry, RunLogPage } from '../logging/client.js'
import type { Run } from '../schemas/run.js'
import type { RunTaskPage, TasksQuery } from '../schemas/tasks.js'
import type { LiveConfig } from './config.js'
import { LogTails } from './log-tail.js'
import { LOG_POLL, RUN_POLL, type PollSchedule } from './poll-schedule.js'
import { ReadBudget } from './read-budget.js'
import { RunWatchers, type RunUpdate } from './run-watcher.js'
import { TaskReads } from './task-reads.js'

/** The tenant check: the execution when this caller may see it, else the 404 of a missing run. */
export type SeeRun = (execution: Execution) => Execution

export interface LiveReadsOptions {
  cloudRun: Pick<CloudRunClient, 'getExecution' | 'listTasks'>
  logs: Pick<CloudLoggingClient, 'runEntries'>
  config: LiveConfig
  runEnded?: (entry: JobEntry, name: string) => Promise<unknown>
  runSchedule?: PollSchedule
  logSchedule?: PollSchedule
}

export interface LogsQuery { since?: string, pageToken?: string, pageSize?: number, taskIndex?: number }

/** A logs page and, when the budget kept it from being current, how long until it may be. */
export interface LogsAnswer { page: RunLogPage, retryAfterSeconds?: number }

const budgetSpent = (what: string, budget: ReadBudget): ApiError => new ApiError('RESOURCE_EXHAUSTED',
  `jobgate's ${what} read budget (${budget.perMinute} per minute) is spent and nothing is cached yet; retry in ${budget.retryAfterSeconds()} s`,
  { retryAfterSeconds: budget.retryAfterSeconds() })

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
    this.runBudget = new ReadBudget(options.config.runReadsPerMinute)
    this.logBudget = new ReadBudget(options.config.loggingReadsPerMinute)
    this.runs = new RunWatchers({
      cloudRun: options.cloudRun,
      budget: this.runBudget,
      schedule: options.runSchedule ?? RUN_POLL,
      ...(options.runEnded !== undefined && { runEnded: options.runEnded })
    })
    this.tasks = new TaskReads({ cloudRun: options.cloudRun, budget: this.runBudget })
    this.logs = new LogTails({
      logs: options.logs,
      budget: this.logBudget,
      runs: this.runs,
      graceMs: options.config.logGraceMs,
      schedule: options.logSchedule ?? LOG_POLL
    })
  }

  /** A plain read of a run. */
  async readRun (entry: JobEntry, name: string, see: SeeRun): Promise<Run> {
    return toRun(entry.id, see(await this.runs.current(entry, name)))
  }

  /** Holds until the run ends, `waitMs` passes or `signal` aborts; answers with the latest run seen. */
  async waitRun (entry: JobEntry, name: string, options: { waitMs: number, signal?: AbortSignal, see: SeeRun }): Promise<Run> {
    const execution = await new Promise<Execution>((resolve, reject) => {
      let latest: Execution | undefined
      let budgetError: ApiError | undefined
      let done = false
      const finish = (): void => {
        if (done) return
        done = true
        clearTimeout(timer)
        options.signal?.removeEventListener('abort', finish)
        unsubscribe()
        if (latest !== undefined) resolve(latest)
        else reject(budgetError ?? budgetSpent('Cloud Run', this.runBudget))
      }
      const timer = setTimeout(finish, options.waitMs)
      options.signal?.addEventListener('abort', finish, { once: true })
      const unsubscribe = this.runs.subscribe(entry, name, (update: RunUpdate) => {
        if (update.kind === 'run') {
          try {
            latest = options.see(update.execution)
          } catch (error) {
            latest = undefined
            budgetError = error as ApiError
            finish()
            return
          }
          if (update.ended) finish()
          return
        }
        // Until the run is known, failures end the wait; a spent budget only delays it.
        if (latest !== undefined) return
        budgetError = update.error
        if (update.error.status !== 'RESOURCE_EXHAUSTED') finish()
      })
      if (options.signal?.aborted === true) finish()
    })
    return toRun(entry.id, execution)
  }

  /** A page of a run's logs: from the finished cache, or from the run's shared tail. */
  async readLogs (entry: JobEntry, name: string, query: LogsQuery, see: SeeRun): Promise<LogsAnswer> {
    see(await this.runs.current(entry, name))
    const finished = this.logs.finishedLog(entry, name)
    if (finished !== undefined) return { page: pageOf(finished, query) }
    const tail = await this.logs.read(entry, name)
    if (tail.error !== undefined) throw tail.error
    if (!tail.loaded) throw budgetSpent('Cloud Logging', this.logBudget)
    const page = pageOf(tail.entries, query)
    return tail.behind ? { page, retryAfterSeconds: this.logBudget.retryAfterSeconds() } : { page }
  }

  /** A page of a run's tasks, by index: read after the run itself, so another tenant's run is a 404 as everywhere. */
  async readTasks (entry: JobEntry, name: string, query: TasksQuery, see: SeeRun): Promise<RunTaskPage> {
    const execution = see(await this.runs.current(entry, name))
    const tasks = (await this.tasks.read(entry, execution)).map(task => toTask(entry.id, name, task))
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
