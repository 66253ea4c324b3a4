import type { JobEntry } from '../catalog.js'
import { notFound, type ApiError } from '../errors.js'
import { upstreamApiError } from '../google/errors.js'

export type Operation = 'run' | 'get' | 'list' | 'cancel'

export interface OperationContext {
  op: Operation
  entry: JobEntry
  /** For `run`: whether overrides were sent (they need a stronger permission). */
  withOverrides?: boolean
  /** For `get` / `cancel`: the execution name. */
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
  }
}

/** Cloud Run's failure as the contract's error, naming the permission or resource involved. */
export function cloudRunError (err: unknown, context: OperationContext): ApiError {
  const { entry } = context
  const where = `project "${entry.project}", region "${entry.region}"`
  const { permission, role } = permissionFor(context)
  return upstreamApiError(err, {
    service: 'Cloud Run',
    permissionAdvice: `jobgate's service account lacks ${permission} on Cloud Run job "${entry.job}" (${where}): grant ${role} on that job to it.`,
    notFound: context.execution === undefined
      ? `Cloud Run job "${entry.job}" does not exist in ${where}.`
      : runNotFound(entry, context.execution).message,
    ...(context.op === 'run' && { startsRun: { checkUrl: `/v1/jobs/${entry.id}/runs` } })
  })
}

/** A run that is not there for this caller: missing, of another job, or of another tenant all read the same. */
export const runNotFound = (entry: JobEntry, name: string): ApiError => notFound(`run "${name}" of job "${entry.id}" not found.`)
