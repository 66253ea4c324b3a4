import type { CloudRunClient } from '../cloudrun/client.js'
import type { RateBudgets } from '../plugins/rate-limit.js'
import type { PerCallerConcurrency } from '../policy/concurrency-limit.js'
import type { JobAccess } from '../policy/job-access.js'
import type { RunStarter } from '../runs/starter.js'

/** What route modules need from the app: handed in, never imported as singletons. */
export interface RouteContext {
  access: JobAccess
  cloudRun: CloudRunClient
  starter: RunStarter
  /** Per principal and tenant: one budget for starting runs (every trigger), one for reads. */
  budgets: RateBudgets
  /** Concurrent held requests (`?wait`, event streams) per caller. */
  waits: PerCallerConcurrency
}
