import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import type { JobEntry } from '../catalog.js'
import { apiErrorOf, type ApiError } from '../errors.js'
import type { RunRequest } from '../schemas/run.js'

export type Trigger = 'api' | 'pubsub' | 'tasks'

export interface AuditRecord {
  entry: JobEntry
  caller: string
  /** The caller's tenant, or the one a tenant-free caller named: two keys sharing a principal name are told apart by it. */
  tenant?: string | undefined
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
  /** Held back by the job's Queue policy: `execution` is the queued run's name; a later line records its admission. */
  queued?: boolean
  error?: unknown
}

/** Who (principal and tenant), what and how it ended, once per line: as Cloud Logging labels (indexed), not repeated as payload fields. */
const labels = (job: string, principal: string, tenant: string | undefined, outcome: string, audit: 'run' | 'cancel' = 'run'): { 'logging.googleapis.com/labels': Record<string, string> } =>
  ({
    'logging.googleapis.com/labels': {
      jobgate_audit: audit,
      jobgate_job: job,
      jobgate_principal: principal,
      ...(tenant !== undefined && { jobgate_tenant: tenant }),
      jobgate_outcome: outcome
    }
  })

/** The tenant a request's line names: the caller's own, or (tenant-free callers) the one it asked the run for. */
export function auditTenant (entry: JobEntry, caller: { tenant?: string | undefined }, env?: Record<string, string>): string | undefined {
  const key = entry.env.tenantKey
  return caller.tenant ?? (key === undefined ? undefined : env?.[key])
}

function outcomeOf (record: AuditRecord, failure: ApiError | undefined): string {
  if (record.error === undefined) return record.replayed === true ? 'replayed' : record.queued === true ? 'queued' : 'started'
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
    ...labels(record.entry.id, record.caller, record.tenant, outcome)
  }
  // The trigger is a field of its own: the message stays short (a run request's line is at most 600 bytes).
  const by = `${record.entry.id} by ${record.caller}`
  const replacing = record.replaced === undefined ? '' : `, replacing ${record.replaced.join(', ')}`
  if (record.error === undefined) log.info(line, `run ${String(record.execution)} of ${by} ${outcome}${replacing}`)
  else if (mayHaveStarted) log.error(line, `run of ${by}: OUTCOME UNKNOWN (${outcome}), a run may have started; check GET /v1/jobs/${record.entry.id}/runs`)
  else log.warn(line, `run of ${by} not started: ${outcome}`)
}

/** A queued run's admission: which run, for whom, and the execution it became (or why it could not start). */
export interface AdmissionRecord {
  entry: JobEntry
  /** The principal as its records key it (caller-key.ts). */
  principal: string
  tenant: string | undefined
  run: string
  execution?: string
  error?: unknown
}

/** The second line of a queued run (the first recorded its queueing): its admission, with outcome `admitted` or the failure's status. */
export function auditAdmission (log: FastifyBaseLogger, record: AdmissionRecord): void {
  const [principal] = JSON.parse(record.principal) as [string]
  const outcome = record.error === undefined ? 'admitted' : apiErrorOf(record.error)?.status ?? 'INTERNAL'
  const line = {
    trigger: 'queue', run: record.run, execution: record.execution, ...labels(record.entry.id, principal, record.tenant, outcome)
  }
  const which = `queued run ${record.run} of ${record.entry.id} by ${principal}`
  if (record.error === undefined) log.info(line, `${which} admitted as ${String(record.execution)}`)
  else log.warn({ ...line, err: record.error }, `${which} could not start: ${outcome}`)
}

/**
 * The audit line for attempts refused before the run path: unauthenticated (401), not on the
 * job (403), rate limited (429), malformed (400). Written by the audit plugin's onError hook.
 */
export function auditRefusal (request: FastifyRequest, trigger: Trigger, error: Error): void {
  const outcome = apiErrorOf(error)?.status ?? 'INVALID_ARGUMENT'
  const unauthenticated = outcome === 'UNAUTHENTICATED'
  const principal = unauthenticated ? 'unauthenticated' : request.caller.name
  const job = (request.params as { job?: string } | undefined)?.job ?? ''
  const tenant = unauthenticated ? undefined : request.caller.tenant
  request.log.warn({ trigger, ...labels(job, principal, tenant, outcome) }, `run of ${job} by ${principal} refused: ${outcome}`)
}

/**
 * One line per cancel attempt, like a start: who, which run, outcome (`cancelled`, or the refusal's
 * status). The cancel route calls it on success and as its `onError` hook.
 */
export function auditCancel (request: FastifyRequest, _reply?: FastifyReply, error?: Error): void {
  const outcome = error === undefined ? 'cancelled' : apiErrorOf(error)?.status ?? 'INTERNAL'
  const unauthenticated = outcome === 'UNAUTHENTICATED'
  const principal = unauthenticated ? 'unauthenticated' : request.caller.name
  const { job = '', run = '' } = (request.params as { job?: string, run?: string } | undefined) ?? {}
  const line = { execution: run, ...labels(job, principal, unauthenticated ? undefined : request.caller.tenant, outcome, 'cancel') }
  if (error === undefined) request.log.info(line, `run ${run} of ${job} cancelled by ${principal}`)
  else request.log.warn(line, `cancel of run ${run} of ${job} by ${principal} refused: ${outcome}`)
}

/** A batch's attempt: who queued how many runs under which batch, or why not. */
export interface BatchAuditRecord {
  entry: JobEntry
  caller: string
  tenant: string | undefined
  runs: number
  idempotencyKey?: string
  batch?: string
  replayed?: boolean
  error?: unknown
}

/** One line per batch (each run's admission has its own line): outcome `queued`, `replayed`, or the refusal's status. */
export function auditBatchAttempt (log: FastifyBaseLogger, record: BatchAuditRecord): void {
  const failure = apiErrorOf(record.error)
  const outcome = record.error === undefined ? record.replayed === true ? 'replayed' : 'queued' : failure?.status ?? 'INTERNAL'
  const line = {
    trigger: 'api',
    batch: record.batch,
    runs: record.runs,
    idempotencyKey: record.idempotencyKey,
    ...(failure?.runMayHaveStarted === true && { runMayHaveStarted: true }),
    ...labels(record.entry.id, record.caller, record.tenant, outcome)
  }
  const by = `${record.entry.id} by ${record.caller}`
  if (record.error === undefined) log.info(line, `batch ${String(record.batch)} of ${by}: ${record.runs} runs ${outcome}`)
  else if (failure?.runMayHaveStarted === true) {
    log.error(line, `batch of ${by}: OUTCOME UNKNOWN (${outcome}), some runs may be queued; check GET /v1/jobs/${record.entry.id}/runs`)
  } else log.warn(line, `batch of ${by} (${record.runs} runs) not queued: ${outcome}`)
}
