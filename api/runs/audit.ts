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
  execution?: string
  error?: unknown
}

/**
 * One line per run attempt, for "who started what": env NAMES only, never values, and labels
 * so Cloud Logging can filter on `labels.jobgate_job` or `labels.jobgate_principal`.
 */
export function auditRunAttempt (log: FastifyBaseLogger, record: AuditRecord): void {
  const outcome = record.error === undefined ? 'started' : record.error instanceof ApiError ? record.error.status : 'INTERNAL'
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
    outcome,
    execution: record.execution,
    'logging.googleapis.com/labels': { jobgate_audit: 'run', jobgate_job: record.entry.id, jobgate_principal: record.caller, jobgate_outcome: outcome }
  }
  if (record.error === undefined) log.info(line, `run ${record.execution ?? ''} of ${record.entry.id} started by ${record.caller}`)
  else log.warn(line, `run of ${record.entry.id} by ${record.caller} not started: ${outcome}`)
}
