import type { JobEntry } from '../catalog.js'
import type { CallContext } from '../google/upstream-error.js'

export type Operation = 'run' | 'get' | 'list' | 'cancel' | 'tasks'

export interface OperationContext {
  op: Operation
  entry: JobEntry
  /** For `run`: whether overrides were sent (they need a stronger permission). */
  withOverrides?: boolean
  /** For `get` / `cancel` / `tasks`: the execution name. */
  execution?: string
}

/** Which permission each operation needs, and the least role that grants it. */
function permissionFor (context: OperationContext): { permission: string, role: string } {
  switch (context.op) {
    case 'run': return context.withOverrides === true
      ? { permission: 'run.jobs.runWithOverrides', role: 'roles/run.jobsExecutorWithOverrides' }
      : { permission: 'run.jobs.run', role: 'roles/run.jobsExecutor' }
    case 'cancel': return { permission: 'run.executions.cancel', role: 'roles/run.jobsExecutorWithOverrides' }
    case 'get': return { permission: 'run.executions.get', role: 'roles/run.viewer' }
    case 'list': return { permission: 'run.executions.list', role: 'roles/run.viewer' }
    case 'tasks': return { permission: 'run.tasks.list', role: 'roles/run.viewer' }
  }
}

const API_METHOD: Record<Operation, string> = { run: 'jobs.run', get: 'executions.get', list: 'executions.list', cancel: 'executions.cancel', tasks: 'tasks.list' }

/** What a failed Cloud Run call means to the user: the permission or resource involved (the edge words it). */
export function cloudRunContext (context: OperationContext): CallContext {
  const { entry } = context
  const where = `project "${entry.project}", region "${entry.region}"`
  const { permission, role } = permissionFor(context)
  return {
    service: 'Cloud Run',
    operation: API_METHOD[context.op],
    permissionAdvice: `jobgate's service account lacks ${permission} on Cloud Run job "${entry.job}" (${where}): grant ${role} on that job to it.`,
    notFound: context.execution === undefined
      ? `Cloud Run job "${entry.job}" does not exist in ${where}.`
      : runNotFoundMessage(entry, context.execution),
    ...(context.op === 'cancel' && { failedPrecondition: `run "${context.execution ?? ''}" of job "${entry.id}" already ended; only a pending or running run can be cancelled.` }),
    ...(context.op === 'run' && { startsRun: { checkUrl: `/v1/jobs/${entry.id}/runs` } })
  }
}

/** A run that is not there for this caller: missing, of another job, or of another tenant all read the same. */
export const runNotFoundMessage = (entry: JobEntry, name: string): string => `run "${name}" of job "${entry.id}" not found.`
