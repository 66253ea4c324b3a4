import type { FastifyBaseLogger } from 'fastify'
import type { JobEntry } from '../catalog.js'
import { ApiError } from '../errors.js'
import type { RunRequest } from '../schemas/run.js'

export type Trigger = 'api' | 'pubsub' | 'tasks'

export interface AuditRecord {
  entry: JobEntry
  caller: string
  request: RunRequest
  trigger: Trigger
  idempotencyKey?: string
  /** Trigger facts: Pub/Sub subscription, message id and delivery attempt; Cloud Tasks queue, task and retry count. */
  details?: Record<string, string | number>
  execution?: string
  /** The run was started by an earlier request with the same key; this one started nothing. */
  replayed?: boolean
  error?: unknown
}

function outcomeOf (record: AuditRecord): string {
  if (record.error === undefined) return record.replayed === true ? 'replayed' : 'started'
  return record.error instanceof ApiError ? record.error.status : 'INTERNAL'
}

/**
 * One line per run attempt, for "who started what": env NAMES only, never values, and labels
 * so Cloud Logging can filter on `labels.jobgate_job` or `labels.jobgate_principal`.
 * An attempt whose outcome is unknown (a run may have started) is an ERROR: someone must look.
 */
export function auditRunAttempt (log: FastifyBaseLogger, record: AuditRecord): void {
  const outcome = outcomeOf(record)
  const mayHaveStarted = record.error instanceof ApiError && record.error.runMayHaveStarted === true
  const line = {
    audit: 'run',
    principal: record.caller,
    job: record.entry.id,
    cloudRunJob: record.entry.job,
    trigger: record.trigger,
    envNames: Object.keys(record.request.env ?? {}),
    argsCount: record.request.args?.length ?? 0,
    clearArgs: record.request.clearArgs === true,
    taskCount: record.request.taskCount,
    timeoutSeconds: record.request.timeoutSeconds,
    idempotencyKey: record.idempotencyKey,
    ...(record.details !== undefined && { event: record.details }),
    outcome,
    ...(mayHaveStarted && { runMayHaveStarted: true }),
    execution: record.execution,
    'logging.googleapis.com/labels': { jobgate_audit: 'run', jobgate_job: record.entry.id, jobgate_principal: record.caller, jobgate_outcome: outcome }
  }
  const by = `${record.entry.id} by ${record.caller} (${record.trigger})`
  if (record.error === undefined) log.info(line, `run ${String(record.execution)} of ${by} ${outcome}`)
  else if (mayHaveStarted) log.error(line, `run of ${by}: OUTCOME UNKNOWN (${outcome}), a run may have started; check GET /v1/jobs/${record.entry.id}/runs`)
  else log.warn(line, `run of ${by} not started: ${outcome}`)
}
