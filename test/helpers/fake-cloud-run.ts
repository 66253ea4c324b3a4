import type { JobEntry } from '../../api/catalog.js'
import type { CloudRunClient, ExecutionPage, TaskPage } from '../../api/cloudrun/client.js'
import type { Condition, Execution, RunJobRequest, Task } from '../../api/cloudrun/execution.js'
import { notFound } from '../../api/errors.js'
import { RUN_MARKER } from '../../api/lifecycle/index.js'

export interface RecordedCall {
  method: 'runJob' | 'getExecution' | 'listExecutions' | 'cancelExecution' | 'listTasks'
  /** The catalog id of the job. */
  job: string
  argument: unknown
}

/** A v1 Execution of Cloud Run job `job` with the given conditions and counts. */
export function fakeExecution (name: string, job: string, options: { created?: string, conditions?: Condition[], status?: Execution['status'], taskCount?: number } = {}): Execution {
  return {
    metadata: { name, creationTimestamp: options.created ?? '2026-11-23T10:00:00Z', labels: { 'run.googleapis.com/job': job } },
    spec: { taskCount: options.taskCount ?? 1 },
    status: { ...(options.conditions !== undefined && { conditions: options.conditions }), ...options.status }
  }
}

export const RUNNING: Condition[] = [{ type: 'Completed', status: 'Unknown' }, { type: 'Started', status: 'True' }]
export const SUCCEEDED: Condition[] = [{ type: 'Completed', status: 'True' }, { type: 'Started', status: 'True' }]

/** A run request without jobgate's marker (api/lifecycle/), and the marker's value. */
function withoutMarker (request: RunJobRequest): { request: RunJobRequest, marker?: string } {
  const [container, ...others] = request.overrides?.containerOverrides ?? []
  const marker = container?.env?.find(variable => variable.name === RUN_MARKER)?.value
  if (container === undefined || marker === undefined) return { request }
  const env = container.env?.filter(variable => variable.name !== RUN_MARKER) ?? []
  const { env: _env, ...rest } = container
  const stripped = env.length > 0 ? { ...rest, env } : rest
  return { request: { overrides: { ...request.overrides, containerOverrides: [stripped, ...others] } }, marker }
}

/**
 * A CloudRunClient that records every call. Executions live in `executions` (name → the answers
 * successive reads give, the last one repeating); `fail` makes the next matching call throw.
 * A run request is recorded without jobgate's own marker (each run carries one), kept in `markers`;
 * `unrecorded` reads the same executions without recording (what the job's reconciler is handed).
 */
export class FakeCloudRun implements CloudRunClient {
  readonly calls: RecordedCall[] = []
  readonly markers: string[] = []
  readonly executions = new Map<string, Execution[]>()
  listPage: ExecutionPage = { executions: [] }
  /** Execution name → its tasks, paged by the `pageSize` asked, as Cloud Run pages by `limit`. */
  readonly tasks = new Map<string, Task[]>()
  readonly #failures = new Map<RecordedCall['method'], unknown>()

  fail (method: RecordedCall['method'], err: unknown): this {
    this.#failures.set(method, err)
    return this
  }

  #record (method: RecordedCall['method'], entry: JobEntry, argument: unknown): void {
    this.calls.push({ method, job: entry.id, argument })
    const failure = this.#failures.get(method)
    if (failure !== undefined) {
      this.#failures.delete(method)
      throw failure
    }
  }

  #read (entry: JobEntry, name: string): Execution {
    const answers = this.executions.get(name)
    const next = answers?.length === 1 ? answers[0] : answers?.shift()
    if (next === undefined || next.metadata?.labels?.['run.googleapis.com/job'] !== entry.job) throw notFound(`run "${name}" of job "${entry.id}" not found.`)
    return next
  }

  async runJob (entry: JobEntry, sent: RunJobRequest): Promise<Execution> {
    const { request, marker } = withoutMarker(sent)
    if (marker !== undefined) this.markers.push(marker)
    this.#record('runJob', entry, request)
    const name = `${entry.job}-${String(this.calls.length).padStart(5, '0')}`
    const execution = fakeExecution(name, entry.job, { taskCount: request.overrides?.taskCount ?? 1 })
    this.executions.set(name, [execution])
    return execution
  }

  async getExecution (entry: JobEntry, name: string): Promise<Execution> {
    this.#record('getExecution', entry, name)
    return this.#read(entry, name)
  }

  async listExecutions (entry: JobEntry, page: { pageSize: number, pageToken?: string }): Promise<ExecutionPage> {
    this.#record('listExecutions', entry, page)
    return this.listPage
  }

  /** The same executions, read without recording or failing: the view the lifecycle's reconcilers get in unit tests. */
  get unrecorded (): Pick<CloudRunClient, 'getExecution' | 'listExecutions'> {
    return {
      getExecution: async (entry, name) => this.#read(entry, name),
      listExecutions: async () => ({ executions: [...this.executions.values()].flatMap(answers => answers.slice(-1)).reverse() })
    }
  }

  async listTasks (entry: JobEntry, execution: string, page: { pageSize: number, pageToken?: string }): Promise<TaskPage> {
    this.#record('listTasks', entry, { execution, ...page })
    const all = this.tasks.get(execution) ?? []
    const start = Number(page.pageToken ?? 0)
    const end = start + page.pageSize
    return end < all.length ? { tasks: all.slice(start, end), nextPageToken: String(end) } : { tasks: all.slice(start) }
  }

  async cancelExecution (entry: JobEntry, name: string, check?: (execution: Execution) => void): Promise<Execution> {
    this.#record('cancelExecution', entry, name)
    const execution = this.#read(entry, name)
    check?.(execution)
    const cancelled: Execution = { ...execution, status: { ...execution.status, conditions: [{ type: 'Completed', status: 'False', reason: 'Cancelled' }], cancelledCount: 1 } }
    this.executions.set(name, [cancelled])
    return cancelled
  }
}
