import { ConfigError } from '../config-error.js'
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

function graceMs (value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback
  if (!/^\d{1,3}$/.test(value)) throw new ConfigError('JOBGATE_LOG_GRACE_SECONDS', `"${value}" must be a whole number of seconds from 0 to 999`)
  return Number(value) * 1000
}

function readsPerMinute (variable: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback
  const number = Number(value)
  if (!/^\d+$/.test(value) || number < 4 || number > 1_000_000) throw new ConfigError(variable, `"${value}" must be a whole number from 4 to 1000000`)
  return number
}

export function loadLiveConfig (env: NodeJS.ProcessEnv, mode: 'local' | 'cloud'): LiveConfig {
  const local = mode === 'local'
  return {
    runReadsPerMinute: readsPerMinute('JOBGATE_RUN_READS_PER_MINUTE', env.JOBGATE_RUN_READS_PER_MINUTE, local ? LOCAL_READS_PER_MINUTE : DEFAULT_RUN_READS_PER_MINUTE),
    loggingReadsPerMinute: readsPerMinute('JOBGATE_LOGGING_READS_PER_MINUTE', env.JOBGATE_LOGGING_READS_PER_MINUTE, local ? LOCAL_READS_PER_MINUTE : DEFAULT_LOGGING_READS_PER_MINUTE),
    // The emulator stores a task's lines before it reports the task ended: nothing arrives late.
    logGraceMs: graceMs(env.JOBGATE_LOG_GRACE_SECONDS, local ? 0 : CLOUD_LOG_GRACE_MS)
  }
}
