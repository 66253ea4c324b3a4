import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import type { JobEntry } from '../catalog.js'
import { apiErrorOf, type ApiError } from '../errors.js'
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
  /** Runs cancelled to make room for this one (concurrency policy Replace). */
  replaced?: string[]
  error?: unknown
}

/** Who, what and how it ended, once per line: as Cloud Logging labels (indexed), not repeated as payload fields. */
const labels = (job: string, principal: string, outcome: string, audit: 'run' | 'cancel' = 'run'): { 'logging.googleapis.com/labels': Record<string, string> } =>
  ({ 'logging.googleapis.com/labels': { jobgate_audit: audit, jobgate_job: job, jobgate_principal: principal, jobgate_outcome: outcome } })

function outcomeOf (record: AuditRecord, failure: ApiError | undefined): string {
  if (record.error === undefined) return record.replayed === true ? 'replayed' : 'started'
  return failure?.status ?? 'INTERNAL'
}

/**
 * One line per run attempt, for "who started what": env NAMES only, never values; who, which job
 * and the outcome are labels so Cloud Logging filters on `labels.jobgate_job` or `labels.jobgate_principal`.
 * An attempt whose outcome is unknown (a run may have started) is an ERROR: someone must look.
 */
export function auditRunAttempt (log: FastifyBaseLogger, record: AuditRecord): void {
  const failure = apiErrorOf(record.error)
  const outcome = outcomeOf(record, failure)
  const mayHaveStarted = failure?.runMayHaveStarted === true
  const line = {
    trigger: record.trigger,
    envNames: Object.keys(record.request.env ?? {}),
    argsCount: record.request.args?.length ?? 0,
    ...(record.request.clearArgs === true && { clearArgs: true }),
    taskCount: record.request.taskCount,
    timeoutSeconds: record.request.timeoutSeconds,
    idempotencyKey: record.idempotencyKey,
    ...(record.details !== undefined && { event: record.details }),
    ...(mayHaveStarted && { runMayHaveStarted: true }),
    execution: record.execution,
    ...(record.replaced !== undefined && { replaced: record.replaced }),
    ...labels(record.entry.id, record.caller, outcome)
  }
  const by = `${record.entry.id} by ${record.caller} (${record.trigger})`
  const replacing = record.replaced === undefined ? '' : `, replacing ${record.replaced.join(', ')}`
  if (record.error === undefined) log.info(line, `run ${String(record.execution)} of ${by} ${outcome}${replacing}`)
  else if (mayHaveStarted) log.error(line, `run of ${by}: OUTCOME UNKNOWN (${outcome}), a run may have started; check GET /v1/jobs/${record.entry.id}/runs`)
  else log.warn(line, `run of ${by} not started: ${outcome}`)
}

/**
 * The audit line for attempts refused before the run path: unauthenticated (401), not on the
 * job (403), rate limited (429), malformed (400). Written by the audit plugin's onError hook.
 */
export function auditRefusal (request: FastifyRequest, trigger: Trigger, error: Error): void {
  const outcome = apiErrorOf(error)?.status ?? 'INVALID_ARGUMENT'
  const principal = outcome === 'UNAUTHENTICATED' ? 'unauthenticated' : request.caller.name
  const job = (request.params as { job?: string } | undefined)?.job ?? ''
  request.log.warn({ trigger, ...labels(job, principal, outcome) }, `run of ${job} by ${principal} (${trigger}) refused: ${outcome}`)
}

/**
 * One line per cancel attempt, like a start: who, which run, outcome (`cancelled`, or the refusal's
 * status). The cancel route calls it on success and as its `onError` hook.
 */
export function auditCancel (request: FastifyRequest, _reply?: FastifyReply, error?: Error): void {
  const outcome = error === undefined ? 'cancelled' : apiErrorOf(error)?.status ?? 'INTERNAL'
  const principal = outcome === 'UNAUTHENTICATED' ? 'unauthenticated' : request.caller.name
  const { job = '', run = '' } = (request.params as { job?: string, run?: string } | undefined) ?? {}
  const line = { execution: run, ...labels(job, principal, outcome, 'cancel') }
  if (error === undefined) request.log.info(line, `run ${run} of ${job} cancelled by ${principal}`)
  else request.log.warn(line, `cancel of run ${run} of ${job} by ${principal} refused: ${outcome}`)
}
