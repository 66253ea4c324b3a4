import type { JobEntry } from '../catalog.js'
import type { CloudRunClient } from '../cloudrun/client.js'
import type { RateBudgets } from '../plugins/rate-limit.js'
import type { PerCallerConcurrency } from '../policy/concurrency-limit.js'
import type { LiveReads, RunAsker } from '../live/live-reads.js'
import type { PageTokens } from '../pages/page-tokens.js'
import type { JobAccess } from '../policy/job-access.js'
import type { Caller } from '../policy/run-policy.js'
import type { QueuedRuns } from '../runs/queued-runs.js'
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
  /** Run state and logs through the shared watchers, tails, caches and read budgets. */
  live: LiveReads
  /** `caller` asking about a run of `entry`: whose share of the read budgets pays, and the run-level tenant check. */
  askerFor: (entry: JobEntry, caller: Caller, name: string) => RunAsker
  /** Seals and opens the runs list's page tokens. */
  pages: PageTokens
  /** Queued runs (concurrency policy Queue) by their names, before and after they start. */
  queued: QueuedRuns
}
