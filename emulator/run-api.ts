import { GoogleError, invalidArgument, resourceNotFound } from './errors.js'
import type { ExecutionContext, ExecutionRun, ExecutionStore } from './executions.js'
import { json, jsonBody, type EmulatorRequest, type EmulatorResponse } from './http.js'
import { jobFromResource, jobResource, type JobDefaults, type JobRecord, type JobStore } from './jobs.js'
import { applyOverrides, parseRunJobRequest } from './overrides.js'
import type { Permissions } from './auth.js'
import type { Projects } from './projects.js'
import { deletedStatus, listOf, type V1Job, type V1Task } from './resources.js'
import { parseLabelSelector } from './selector.js'
import { parseTaskName } from './tasks.js'

export const RUN_PREFIX = '/apis/run.googleapis.com/v1/namespaces/'

export interface RunApiDeps {
  jobs: JobStore
  executions: ExecutionStore
  permissions: Permissions
  projects: Projects
  region: string
  jobDefaults: JobDefaults
  executionContext: (project: string) => ExecutionContext
}

/** A list query's `limit` (0: no limit). */
function pageLimit (query: URLSearchParams): number {
  const limitText = query.get('limit')
  const limit = limitText === null || limitText === '' ? 0 : Number(limitText)
  if (!Number.isSafeInteger(limit) || limit < 0) throw invalidArgument(`limit: must be a non-negative integer, got ${JSON.stringify(limitText)}.`)
  return limit
}

/** The name of the item a list query's `continue` token says the page comes after. */
function continuedAfter (query: URLSearchParams): string | undefined {
  const token = query.get('continue')
  return token ? Buffer.from(token, 'base64url').toString() : undefined
}

const continueToken = (name: string): string => Buffer.from(name).toString('base64url')
const invalidToken = (): GoogleError => invalidArgument('continue: invalid or expired continuation token.')

/** One page of `items` (already in list order) after the item named by `token`, Kubernetes-style (`limit`, `continue`). */
function page<T> (items: T[], keyOf: (item: T) => string, query: URLSearchParams): { items: T[], next?: string } {
  const limit = pageLimit(query)
  const after = continuedAfter(query)
  let start = 0
  if (after !== undefined) {
    start = items.findIndex(item => keyOf(item) === after) + 1
    if (start === 0) throw invalidToken()
  }
  const slice = limit === 0 ? items.slice(start) : items.slice(start, start + limit)
  const last = slice.at(-1)
  const more = last !== undefined && start + slice.length < items.length
  return more ? { items: slice, next: continueToken(keyOf(last)) } : { items: slice }
}

/** The Cloud Run Admin API v1 routes for jobs, executions and tasks under /apis/run.googleapis.com/v1/namespaces/{ns}/. */
export class RunApi {
  readonly #deps: RunApiDeps

  constructor (deps: RunApiDeps) {
    this.#deps = deps
  }

  #jobResource (job: JobRecord): V1Job {
    const runs = this.#deps.executions.list(job.project, job.name)
    const latest = runs[0]
    return jobResource(
      job,
      this.#deps.projects.numberOf(job.project),
      latest ? { count: runs.length, latest: latest.reference() } : { count: 0 }
    )
  }

  #requireExecution (project: string, name: string): ExecutionRun {
    const run = this.#deps.executions.get(project, name)
    if (!run) throw resourceNotFound(name, 'EXECUTION', this.#deps.region, project)
    return run
  }

  async handle (request: EmulatorRequest): Promise<EmulatorResponse> {
    const segments = request.path.slice(RUN_PREFIX.length).split('/').map(decodeURIComponent)
    const [namespace, collection, item, ...rest] = segments
    if (!namespace || rest.length > 0 || (collection !== 'jobs' && collection !== 'executions' && collection !== 'tasks')) return notFound(request)
    const project = this.#deps.projects.idOf(namespace)
    const { permissions } = this.#deps
    const check = (permission: string, name?: string): void =>
      permissions.check(permission, `namespaces/${namespace}/${collection}${name === undefined ? '' : `/${name}`}`)
    const [name, verb] = (item ?? '').split(':') as [string, string | undefined]
    const method = request.method
    if (collection === 'jobs') {
      if (item === undefined && method === 'GET') return this.#listJobs(project, request.query, check)
      if (item === undefined && method === 'POST') return this.#createJob(project, request, check)
      if (verb === 'run' && method === 'POST') return this.#runJob(project, name, request, check)
      if (verb === undefined && method === 'GET') { check('run.jobs.get', name); return json(this.#jobResource(this.#deps.jobs.require(project, name, this.#deps.region))) }
      if (verb === undefined && method === 'PUT') return this.#replaceJob(project, name, request, check)
      if (verb === undefined && method === 'DELETE') return this.#deleteJob(project, name, check)
    } else if (collection === 'tasks') {
      if (item === undefined && method === 'GET') return this.#listTasks(project, request.query, check)
      if (verb === undefined && method === 'GET') { check('run.tasks.get', name); return json(this.#requireTask(project, name)) }
    } else {
      if (item === undefined && method === 'GET') return this.#listExecutions(project, request.query, check)
      if (verb === undefined && method === 'GET') { check('run.executions.get', name); return json(this.#requireExecution(project, name).resource()) }
      if (verb === 'cancel' && method === 'POST') return this.#cancelExecution(project, name, check)
      if (verb === undefined && method === 'DELETE') return this.#deleteExecution(project, name, check)
    }
    return notFound(request)
  }

  #listJobs (project: string, query: URLSearchParams, check: (p: string) => void): EmulatorResponse {
    check('run.jobs.list')
    const selector = parseLabelSelector(query.get('labelSelector') ?? undefined)
    const jobs = this.#deps.jobs.list(project).map(job => this.#jobResource(job)).filter(job => selector(job.metadata.labels))
    const { items, next } = page(jobs, job => job.metadata.name, query)
    return json(listOf('JobsList', items, next))
  }

  #createJob (project: string, request: EmulatorRequest, check: (p: string) => void): EmulatorResponse {
    check('run.jobs.create')
    const job = this.#deps.jobs.create(jobFromResource(project, jsonBody(request), this.#deps.jobDefaults))
    return json(this.#jobResource(job))
  }

  #replaceJob (project: string, name: string, request: EmulatorRequest, check: (p: string, name: string) => void): EmulatorResponse {
    check('run.jobs.update', name)
    const update = jobFromResource(project, jsonBody(request), this.#deps.jobDefaults)
    if (update.name !== name) throw invalidArgument(`metadata.name: '${update.name}' does not match the job in the URL, '${name}'.`)
    const existing = this.#deps.jobs.require(project, name, this.#deps.region)
    return json(this.#jobResource(this.#deps.jobs.replace(existing, update)))
  }

  async #deleteJob (project: string, name: string, check: (p: string, name: string) => void): Promise<EmulatorResponse> {
    check('run.jobs.delete', name)
    const job = this.#deps.jobs.require(project, name, this.#deps.region)
    // Deleting a job deletes its executions; running ones are stopped first.
    for (const run of this.#deps.executions.list(project, name)) {
      if (!run.outcome) await run.cancel()
      this.#deps.executions.delete(run)
    }
    this.#deps.jobs.delete(job)
    return json(deletedStatus('jobs', name, job.uid))
  }

  #runJob (project: string, name: string, request: EmulatorRequest, check: (p: string, name: string) => void): EmulatorResponse {
    const overrides = parseRunJobRequest(jsonBody(request))
    check('run.jobs.run', name)
    if (overrides) check('run.jobs.runWithOverrides', name)
    const job = this.#deps.jobs.require(project, name, this.#deps.region)
    const run = this.#deps.executions.create(job, applyOverrides(job, overrides), this.#deps.executionContext(project))
    run.start()
    return json(run.resource())
  }

  #listExecutions (project: string, query: URLSearchParams, check: (p: string) => void): EmulatorResponse {
    check('run.executions.list')
    const selector = parseLabelSelector(query.get('labelSelector') ?? undefined)
    const limit = pageLimit(query)
    const runs = this.#deps.executions.newestFirst(project, continuedAfter(query))
    if (runs === undefined) throw invalidToken()
    // Only the page's executions are looked at and built: a job with thousands of runs lists a page at a time, as in Cloud Run.
    const items: ExecutionRun[] = []
    let more = false
    for (const run of runs) {
      if (!selector(run.labels())) continue
      if (limit > 0 && items.length === limit) { more = true; break }
      items.push(run)
    }
    const last = items.at(-1)
    const next = more && last !== undefined ? continueToken(last.name) : undefined
    return json(listOf('ExecutionsList', items.map(run => run.resource()), next))
  }

  /** Every task of the project's executions (newest execution first, each by index) that the selector picks. */
  #listTasks (project: string, query: URLSearchParams, check: (p: string) => void): EmulatorResponse {
    check('run.tasks.list')
    const selector = parseLabelSelector(query.get('labelSelector') ?? undefined)
    const tasks = this.#deps.executions.list(project).flatMap(run => run.tasks()).filter(task => selector(task.metadata.labels))
    const { items, next } = page(tasks, task => task.metadata.name, query)
    return json(listOf('TasksList', items, next))
  }

  #requireTask (project: string, name: string): V1Task {
    const parsed = parseTaskName(name)
    const task = parsed === undefined ? undefined : this.#deps.executions.get(project, parsed.execution)?.tasks()[parsed.index]
    if (task === undefined) throw resourceNotFound(name, 'TASK', this.#deps.region, project)
    return task
  }

  async #cancelExecution (project: string, name: string, check: (p: string, name: string) => void): Promise<EmulatorResponse> {
    check('run.executions.cancel', name)
    const run = this.#requireExecution(project, name)
    await run.cancel()
    return json(run.resource())
  }

  async #deleteExecution (project: string, name: string, check: (p: string, name: string) => void): Promise<EmulatorResponse> {
    check('run.executions.delete', name)
    const run = this.#requireExecution(project, name)
    if (!run.outcome) await run.cancel()
    this.#deps.executions.delete(run)
    return json(deletedStatus('executions', name, run.uid))
  }
}

export function notFound (request: EmulatorRequest): never {
  throw new GoogleError('NOT_FOUND', `The requested URL ${request.method} ${request.path} was not found on this server (the emulator does not implement it).`)
}
