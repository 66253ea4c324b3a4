import { wholeNumber, type Env } from '../env.js'
import { CLOUD_LOG_GRACE_MS } from './log-tail.js'

export interface LiveConfig {
  /** Cloud Run Admin API reads (executions.get) this instance may make per minute, all callers together. */
  runReadsPerMinute: number
  /** Cloud Logging entries.list calls this instance may make per minute, all callers together. */
  loggingReadsPerMinute: number
  /** How long a run's log tail keeps reading after the run ended. */
  logGraceMs: number
}

/**
 * Cloud Run's Admin API allows 1,000 read requests per minute per project and region
 * (https://cloud.google.com/run/quotas, "API rate limits"); 300 leaves room for the Console,
 * gcloud, and a few more jobgate instances.
 */
export const DEFAULT_RUN_READS_PER_MINUTE = 300
/** Half of Cloud Logging's 60 entries.list calls per minute per project; the rest is left to people. */
export const DEFAULT_LOGGING_READS_PER_MINUTE = 30
/** The emulator has no quota to protect: local mode reads as often as its watchers like. */
const LOCAL_READS_PER_MINUTE = 60_000

/** The budget bursts a quarter of it (read-budget.ts): at least 4 leaves a burst of one read. */
const READS_PER_MINUTE = { min: 4, max: 1_000_000 }

export function loadLiveConfig (env: Env, mode: 'local' | 'cloud'): LiveConfig {
  const local = mode === 'local'
  return {
    runReadsPerMinute: wholeNumber(env, 'JOBGATE_RUN_READS_PER_MINUTE', { ...READS_PER_MINUTE, fallback: local ? LOCAL_READS_PER_MINUTE : DEFAULT_RUN_READS_PER_MINUTE }),
    loggingReadsPerMinute: wholeNumber(env, 'JOBGATE_LOGGING_READS_PER_MINUTE', { ...READS_PER_MINUTE, fallback: local ? LOCAL_READS_PER_MINUTE : DEFAULT_LOGGING_READS_PER_MINUTE }),
    // The emulator stores a task's lines before it reports the task ended: nothing arrives late.
    logGraceMs: wholeNumber(env, 'JOBGATE_LOG_GRACE_SECONDS', { fallback: local ? 0 : CLOUD_LOG_GRACE_MS / 1000, min: 0, max: 999 }) * 1000
  }
}
