import type { ExecutionState } from '../schemas/run.js'
import type { RunTask } from '../schemas/tasks.js'
import { RUNNING_STATE_LABEL, type Task } from './execution.js'
import { runPath } from './mapping.js'

const runningStates: Record<string, ExecutionState> = {
  Pending: 'PENDING', Running: 'RUNNING', Succeeded: 'SUCCEEDED', Failed: 'FAILED', Cancelled: 'CANCELLED', Abandoned: 'CANCELLED'
}

/** A task's state: Cloud Run's runningState label, else its conditions (as for executions). */
export function taskState (task: Task): ExecutionState {
  const labelled = runningStates[task.metadata?.labels?.[RUNNING_STATE_LABEL] ?? '']
  if (labelled !== undefined) return labelled
  const conditions = task.status?.conditions ?? []
  const completed = conditions.find(condition => condition.type === 'Completed')
  if (completed?.status === 'True') return 'SUCCEEDED'
  if (completed?.status === 'False') return /cancel/i.test(completed.reason ?? '') ? 'CANCELLED' : 'FAILED'
  return conditions.some(condition => condition.type === 'Started' && condition.status === 'True') ? 'RUNNING' : 'PENDING'
}

/** A v1 Task as the contract's task of run `runName` of catalog job `jobId`. */
export function toTask (jobId: string, runName: string, task: Task): RunTask {
  const status = task.status ?? {}
  const index = status.index ?? 0
  const state = taskState(task)
  const retried = status.retried ?? 0
  // Cloud Run counts retries; a task that is running or has ended ran once more than that.
  const attempts = state === 'PENDING' ? retried : retried + 1
  const out: RunTask = { index, state, attempts, links: { logs: `${runPath(jobId, runName)}/logs?taskIndex=${index}` } }
  const last = status.lastAttemptResult
  if (last !== undefined) {
    const message = last.status?.message
    // proto3 JSON leaves out an exit code of 0: an attempt that ended without signal or complaint exited 0.
    const exitCode = last.exitCode ?? (last.termSignal === undefined && (message ?? '') === '' ? 0 : undefined)
    if (exitCode !== undefined) out.exitCode = exitCode
    if (last.termSignal !== undefined) out.termSignal = last.termSignal
    if (message !== undefined && message !== '') out.message = message
  }
  if (status.startTime !== undefined) out.startTime = status.startTime
  if (status.completionTime !== undefined) out.completionTime = status.completionTime
  if (status.logUri !== undefined) out.logUri = status.logUri
  return out
}
