import type { JobEntry } from '../catalog.js'
import type { GoogleHttp } from '../google/http.js'
import { UpstreamError } from '../google/upstream-error.js'
import { cloudRunContext, type OperationContext } from './errors.js'
import { EXECUTION_LABEL, JOB_LABEL, type Execution, type ExecutionList, type RunJobRequest, type Task, type TaskList } from './execution.js'
import { hasOverrides } from './mapping.js'

export interface ExecutionPage {
  executions: Execution[]
  nextPageToken?: string
}

export interface TaskPage {
  tasks: Task[]
  nextPageToken?: string
}

export interface CloudRunClient {
  runJob (entry: JobEntry, request: RunJobRequest): Promise<Execution>
  getExecution (entry: JobEntry, name: string): Promise<Execution>
  listExecutions (entry: JobEntry, page: { pageSize: number, pageToken?: string }): Promise<ExecutionPage>
  /** `check` sees the execution read before the cancel and may refuse it by throwing. */
  cancelExecution (entry: JobEntry, name: string, check?: (execution: Execution) => void): Promise<Execution>
  /** One page of an execution's tasks (namespaces.tasks.list with a label selector on the execution and the job). */
  listTasks (entry: JobEntry, execution: string, page: { pageSize: number, pageToken?: string }): Promise<TaskPage>
}

/** The Cloud Run Admin API v1 (namespaces.jobs / namespaces.executions) over the regional host. */
export class CloudRunRestClient implements CloudRunClient {
  readonly #http: GoogleHttp
  readonly #endpoint: string | undefined

  /** `endpoint` overrides the regional host `https://{region}-run.googleapis.com` (emulator, tests). */
  constructor (http: GoogleHttp, endpoint?: string) {
    this.#http = http
    this.#endpoint = endpoint
  }

  #namespaceUrl (entry: JobEntry): string {
    const base = this.#endpoint ?? `https://${entry.region}-run.googleapis.com`
    return `${base}/apis/run.googleapis.com/v1/namespaces/${encodeURIComponent(entry.project)}`
  }

  async #call<T> (context: OperationContext, call: Omit<Parameters<GoogleHttp['call']>[0], 'context'>): Promise<T> {
    return await this.#http.call<T>({ ...call, context: cloudRunContext(context) })
  }

  async runJob (entry: JobEntry, request: RunJobRequest): Promise<Execution> {
    const url = `${this.#namespaceUrl(entry)}/jobs/${encodeURIComponent(entry.job)}:run`
    return await this.#call({ op: 'run', entry, withOverrides: hasOverrides(request) }, { method: 'POST', url, body: request, retry: 'unsafe' })
  }

  async getExecution (entry: JobEntry, name: string): Promise<Execution> {
    const url = `${this.#namespaceUrl(entry)}/executions/${encodeURIComponent(name)}`
    const context: OperationContext = { op: 'get', entry, execution: name }
    const execution = await this.#call<Execution>(context, { method: 'GET', url, retry: 'safe' })
    // A run of another job is not this job's run, whatever its name.
    if (execution.metadata?.labels?.[JOB_LABEL] !== entry.job) {
      throw new UpstreamError('not-found', `execution "${name}" is not a run of Cloud Run job "${entry.job}"`, { context: cloudRunContext(context) })
    }
    return execution
  }

  async listExecutions (entry: JobEntry, page: { pageSize: number, pageToken?: string }): Promise<ExecutionPage> {
    const query = new URLSearchParams({ labelSelector: `${JOB_LABEL}=${entry.job}`, limit: String(page.pageSize) })
    if (page.pageToken !== undefined) query.set('continue', page.pageToken)
    const url = `${this.#namespaceUrl(entry)}/executions?${query.toString()}`
    const list = await this.#call<ExecutionList>({ op: 'list', entry }, { method: 'GET', url, retry: 'safe' })
    const result: ExecutionPage = { executions: list.items ?? [] }
    if (list.metadata?.continue !== undefined && list.metadata.continue !== '') result.nextPageToken = list.metadata.continue
    return result
  }

  async listTasks (entry: JobEntry, execution: string, page: { pageSize: number, pageToken?: string }): Promise<TaskPage> {
    // The job's label too: an execution name of another job lists nothing.
    const query = new URLSearchParams({ labelSelector: `${EXECUTION_LABEL}=${execution},${JOB_LABEL}=${entry.job}`, limit: String(page.pageSize) })
    if (page.pageToken !== undefined) query.set('continue', page.pageToken)
    const url = `${this.#namespaceUrl(entry)}/tasks?${query.toString()}`
    const list = await this.#call<TaskList>({ op: 'tasks', entry, execution }, { method: 'GET', url, retry: 'safe' })
    const result: TaskPage = { tasks: list.items ?? [] }
    if (list.metadata?.continue !== undefined && list.metadata.continue !== '') result.nextPageToken = list.metadata.continue
    return result
  }

  async cancelExecution (entry: JobEntry, name: string, check?: (execution: Execution) => void): Promise<Execution> {
    const execution = await this.getExecution(entry, name)
    check?.(execution)
    const url = `${this.#namespaceUrl(entry)}/executions/${encodeURIComponent(name)}:cancel`
    // Cancelling twice is harmless, so a lost answer may be retried.
    return await this.#call({ op: 'cancel', entry, execution: name }, { method: 'POST', url, body: {}, retry: 'safe' })
  }
}
