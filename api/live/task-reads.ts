import type { JobEntry } from '../catalog.js'
import type { CloudRunClient } from '../cloudrun/client.js'
import type { Execution, Task } from '../cloudrun/execution.js'
import { taskState } from '../cloudrun/task-mapping.js'
import { isTerminal } from '../../common/run-state.js'
import { FinishedCache, jsonBytes } from './finished-cache.js'
import { watchKey } from './live-loops.js'
import type { Reader } from './read-budget.js'
import { ended } from './run-watcher.js'

/** Tasks asked of Cloud Run per page: a run of 10,000 tasks costs 20 reads. */
export const UPSTREAM_TASK_PAGE = 500

export interface TaskReadsOptions {
  cloudRun: Pick<CloudRunClient, 'listTasks'>
  /** One read on `reader`'s share of the Cloud Run read budget (LiveReads.callCloudRun): one per page. */
  callCloudRun: <T>(reader: Reader, call: () => Promise<T>) => Promise<T>
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

  /** The tasks of `execution` (read and tenant-checked by the caller), by index; a shared read is paid by its first reader. */
  async read (entry: JobEntry, execution: Execution, reader: Reader): Promise<Task[]> {
    const name = execution.metadata?.name ?? ''
    const key = watchKey(entry, name)
    const cached = this.finished.get(key)
    if (cached !== undefined) return cached
    let reading = this.#reading.get(key)
    if (reading === undefined) {
      reading = this.#readAll(entry, name, reader).then(tasks => {
        if (ended(execution) && tasks.every(task => isTerminal(taskState(task)))) this.finished.set(key, tasks)
        return tasks
      }).finally(() => this.#reading.delete(key))
      this.#reading.set(key, reading)
    }
    return await reading
  }

  async #readAll (entry: JobEntry, name: string, reader: Reader): Promise<Task[]> {
    const { callCloudRun, cloudRun } = this.#options
    const tasks: Task[] = []
    let pageToken: string | undefined
    do {
      const query = { pageSize: UPSTREAM_TASK_PAGE, ...(pageToken !== undefined && { pageToken }) }
      const page = await callCloudRun(reader, async () => await cloudRun.listTasks(entry, name, query))
      tasks.push(...page.tasks)
      pageToken = page.nextPageToken
    } while (pageToken !== undefined)
    return tasks.sort((a, b) => (a.status?.index ?? 0) - (b.status?.index ?? 0))
  }
}
