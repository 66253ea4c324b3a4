import type { JobEntry } from '../catalog.js'
import type { CloudRunClient } from '../cloudrun/client.js'
import type { Execution, Task } from '../cloudrun/execution.js'
import { taskState } from '../cloudrun/task-mapping.js'
import { isTerminal } from '../../common/run-state.js'
import { FinishedCache, jsonBytes } from './finished-cache.js'
import { watchKey } from './live-loops.js'
import type { ReadBudget } from './read-budget.js'
import { budgetSpent, ended, noteFailure } from './run-watcher.js'

/** Tasks asked of Cloud Run per page: a run of 10,000 tasks costs 20 reads. */
export const UPSTREAM_TASK_PAGE = 500

export interface TaskReadsOptions {
  cloudRun: Pick<CloudRunClient, 'listTasks'>
  /** The Cloud Run read budget run reads draw on: one read per page. */
  budget: ReadBudget
  finished?: FinishedCache<Task[]>
}

/**
 * A run's tasks as Cloud Run lists them (namespaces.tasks): every page read within the instance's
 * Cloud Run read budget, callers asking at once share one read, and once the run and each of its
 * tasks have ended the list is kept in a bounded cache, so reading it again costs nothing upstream.
 */
export class TaskReads {
  readonly finished: FinishedCache<Task[]>
  readonly #options: TaskReadsOptions
  readonly #reading = new Map<string, Promise<Task[]>>()

  constructor (options: TaskReadsOptions) {
    this.#options = options
    this.finished = options.finished ?? new FinishedCache<Task[]>({ maxItems: 200, maxBytes: 16 * 1024 * 1024, sizeOf: jsonBytes })
  }

  /** The tasks of `execution` (read and tenant-checked by the caller), by index. */
  async read (entry: JobEntry, execution: Execution): Promise<Task[]> {
    const name = execution.metadata?.name ?? ''
    const key = watchKey(entry, name)
    const cached = this.finished.get(key)
    if (cached !== undefined) return cached
    let reading = this.#reading.get(key)
    if (reading === undefined) {
      reading = this.#readAll(entry, name).then(tasks => {
        if (ended(execution) && tasks.every(task => isTerminal(taskState(task)))) this.finished.set(key, tasks)
        return tasks
      }).finally(() => this.#reading.delete(key))
      this.#reading.set(key, reading)
    }
    return await reading
  }

  async #readAll (entry: JobEntry, name: string): Promise<Task[]> {
    const { budget, cloudRun } = this.#options
    const tasks: Task[] = []
    let pageToken: string | undefined
    do {
      if (!budget.tryTake()) throw budgetSpent(budget)
      let page
      try {
        page = await cloudRun.listTasks(entry, name, { pageSize: UPSTREAM_TASK_PAGE, ...(pageToken !== undefined && { pageToken }) })
      } catch (error) {
        throw noteFailure(budget, error)
      }
      budget.succeeded()
      tasks.push(...page.tasks)
      pageToken = page.nextPageToken
    } while (pageToken !== undefined)
    return tasks.sort((a, b) => (a.status?.index ?? 0) - (b.status?.index ?? 0))
  }
}
