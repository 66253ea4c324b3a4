import type { ConcurrencyPolicy } from '../schemas/catalog.js'

/** A job's concurrency policy with its defaults applied; Allow has none (nothing to enforce). */
export interface ConcurrencyRule {
  policy: 'Forbid' | 'Replace' | 'Queue'
  /** Running runs allowed at once in one scope. */
  maxRunning: number
  /** `job`: all runs of the job count together (jobs without a tenant key); `tenant`: runs count per value of `tenantKey`. */
  scope: 'job' | 'tenant'
  /** Set when `scope` is `tenant`: the env variable that names a run's tenant. */
  tenantKey?: string
  /** What a push route answers when the policy refuses a start: 429 to be redelivered, or an acknowledgement. */
  onConflict: 'retry' | 'drop'
  /** Queue: how long a run may wait for a slot before it ends unstarted. */
  queueTimeoutMs?: number
}

export const DEFAULT_MAX_RUNNING = 1
/** A queued run waits at most a day by default: a nightly batch's runs never start the next night. */
export const DEFAULT_QUEUE_TIMEOUT_SECONDS = 86_400

/**
 * The rule of a catalog entry's `concurrency` field; throws an Error naming the problem (the catalog turns it into a ConfigError).
 * On a tenant-scoped job (env.tenantKey) a policy is per tenant: a job-wide one would let one tenant's start be refused
 * by, name, or (Replace) cancel another tenant's runs. Queue may be job-wide there: a start past the limit waits its
 * tenant's turn (round-robin across tenants) and learns nothing of other tenants' runs.
 */
export function concurrencyRuleOf (policy: ConcurrencyPolicy, tenantKey: string | undefined): ConcurrencyRule | undefined {
  const scope = policy.scope ?? (tenantKey === undefined ? 'job' : 'tenant')
  if (scope === 'tenant' && tenantKey === undefined) throw new Error('concurrency.scope "tenant" needs env.tenantKey (the variable that names the tenant)')
  // Queue refuses, names and cancels nothing: tenants may share one job-wide limit, and take turns under it.
  if (scope === 'job' && tenantKey !== undefined && policy.policy !== 'Queue') {
    throw new Error(`concurrency.scope "job" on a tenant-scoped job (env.tenantKey ${tenantKey}) would let one tenant's runs refuse, or be cancelled by, another's; use scope "tenant" (the default there)`)
  }
  if (policy.policy === 'Allow') return undefined
  if (policy.queueTimeoutSeconds !== undefined && policy.policy !== 'Queue') {
    throw new Error('concurrency.queueTimeoutSeconds needs policy "Queue"')
  }
  if (policy.onConflict !== undefined && policy.policy === 'Queue') {
    throw new Error('concurrency.onConflict does not apply to policy "Queue" (a push past the limit is queued)')
  }
  return {
    ...(policy.policy === 'Queue' && { queueTimeoutMs: (policy.queueTimeoutSeconds ?? DEFAULT_QUEUE_TIMEOUT_SECONDS) * 1000 }),
    policy: policy.policy,
    maxRunning: policy.maxRunning ?? DEFAULT_MAX_RUNNING,
    scope,
    ...(scope === 'tenant' && { tenantKey }),
    onConflict: policy.onConflict ?? 'retry'
  }
}
