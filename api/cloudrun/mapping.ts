import type { JobEntry } from '../catalog.js'
import type { ExecutionState, Run, RunRequest } from '../schemas/run.js'
import type { Condition, ContainerOverride, Execution, RunJobRequest } from './execution.js'

/** The contract's run request as Cloud Run's `RunJobRequest`; only what the caller sent is overridden. */
export function toRunJobRequest (entry: JobEntry, request: RunRequest): RunJobRequest {
  const container: ContainerOverride = {}
  if (request.args !== undefined && request.args.length > 0) container.args = request.args
  if (request.clearArgs === true) container.clearArgs = true
  const env = Object.entries(request.env ?? {})
  if (env.length > 0) container.env = env.map(([name, value]) => ({ name, value }))
  const overrides: RunJobRequest['overrides'] = {}
  if (Object.keys(container).length > 0) {
    overrides.containerOverrides = [entry.container === undefined ? container : { name: entry.container, ...container }]
  }
  if (request.taskCount !== undefined) overrides.taskCount = request.taskCount
  if (request.timeoutSeconds !== undefined) overrides.timeoutSeconds = request.timeoutSeconds
  return Object.keys(overrides).length > 0 ? { overrides } : {}
}

export const hasOverrides = (body: RunJobRequest): boolean => body.overrides !== undefined

const conditionOf = (execution: Execution, type: string): Condition | undefined =>
  execution.status?.conditions?.find(condition => condition.type === type)

/** The contract's state rules, from the execution's conditions and counts. */
export function executionState (execution: Execution): ExecutionState {
  const completed = conditionOf(execution, 'Completed')
  const status = execution.status ?? {}
  if (completed?.status === 'True') return 'SUCCEEDED'
  if (completed?.status === 'False') {
    const cancelled = /cancel/i.test(completed.reason ?? '') || ((status.cancelledCount ?? 0) > 0 && (status.failedCount ?? 0) === 0)
    return cancelled ? 'CANCELLED' : 'FAILED'
  }
  if (conditionOf(execution, 'Started')?.status === 'True' || (status.runningCount ?? 0) > 0) return 'RUNNING'
  return 'PENDING'
}

export const runPath = (jobId: string, runName: string): string => `/v1/jobs/${jobId}/runs/${runName}`

/** The env variable jobgate sets on every execution it starts: the id of its run record (api/lifecycle/). */
export const RUN_MARKER = 'JOBGATE_RUN'

/** The value of the marker on an execution jobgate started: the run record's id. */
export function markerOf (execution: Execution): string | undefined {
  for (const container of execution.spec?.template?.spec?.containers ?? []) {
    const value = container.env?.find(variable => variable.name === RUN_MARKER)?.value
    if (value !== undefined) return value
  }
  return undefined
}

/** A queued run's id: `{job}-q` and 9 of [a-z0-9], which no execution name (5 after the dash) and no other run id has. */
const QUEUED_ID = /-q[a-z0-9]{9}$/
export const isQueuedRunId = (name: string): boolean => QUEUED_ID.test(name)

/** A run that was queued keeps its id as its name for its whole life; once started it also names its execution. */
export function queuedRunName (jobId: string, id: string, run: Run): Run {
  if (run.name === id) return run
  const self = runPath(jobId, id)
  return { ...run, name: id, execution: run.name, links: { self, logs: `${self}/logs` } }
}

/** A v1 Execution as the contract's Run. */
export function toRun (jobId: string, execution: Execution): Run {
  const name = execution.metadata?.name ?? ''
  const status = execution.status ?? {}
  const state = executionState(execution)
  const run: Run = {
    name,
    job: jobId,
    state,
    taskCount: execution.spec?.taskCount ?? 1,
    runningCount: status.runningCount ?? 0,
    succeededCount: status.succeededCount ?? 0,
    failedCount: status.failedCount ?? 0,
    cancelledCount: status.cancelledCount ?? 0,
    retriedCount: status.retriedCount ?? 0,
    links: { self: runPath(jobId, name), logs: `${runPath(jobId, name)}/logs` }
  }
  if (execution.metadata?.creationTimestamp !== undefined) run.createTime = execution.metadata.creationTimestamp
  if (status.startTime !== undefined) run.startTime = status.startTime
  if (status.completionTime !== undefined) run.completionTime = status.completionTime
  if (status.logUri !== undefined) run.logUri = status.logUri
  const failure = conditionOf(execution, 'Completed')
  if (state === 'FAILED' && failure?.message !== undefined) run.message = failure.message
  const marker = markerOf(execution)
  return marker !== undefined && isQueuedRunId(marker) ? queuedRunName(jobId, marker, run) : run
}
