import type { CloudRunClient } from '../cloudrun/client.js'
import type { PerCallerConcurrency } from '../policy/concurrency-limit.js'
import type { JobAccess } from '../policy/job-access.js'
import type { RunStarter } from '../runs/starter.js'

/** What route modules need from the app: handed in, never imported as singletons. */
export interface RouteContext {
  access: JobAccess
  cloudRun: CloudRunClient
  starter: RunStarter
  /** Per-principal budget for routes that start runs. */
  runsPerMinute: number
  /** Concurrent held requests (`?wait`, event streams) per caller. */
  waits: PerCallerConcurrency
}
