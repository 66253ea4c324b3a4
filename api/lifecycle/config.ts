import { ConfigError } from '../config-error.js'
import { quote, text, wholeNumber, type Env } from '../env.js'
import type { CeilingConfig } from './ceilings.js'
import { topicProblem } from './pubsub-publisher.js'

export interface LifecycleConfig {
  /** JOBGATE_EVENTS_TOPIC: `projects/P/topics/T`; absent: events go to the firehose (GET /v1/events) only. */
  topic?: string
  /** Pub/Sub's REST endpoint: the emulator's when PUBSUB_EMULATOR_HOST is set (Google's clients' rule). */
  pubsubEndpoint: string
  /** True when `pubsubEndpoint` is the emulator (it takes no credentials). */
  pubsubEmulator: boolean
  /** ce-source of every event: this jobgate service. */
  source: string
  /** JOBGATE_LEASE_SECONDS: how long a job's reconciler lease lasts unless renewed; a dead holder's jobs move on after it. */
  leaseMs: number
  /** How long the firehose can resume from (and Firestore keeps published events). */
  retentionMs: number
  /** How long an event may wait for Pub/Sub before it is given up. */
  outboxMaxWaitMs: number
  /** JOBGATE_MAX_RUNNING_EXECUTIONS and JOBGATE_RUN_STARTS_PER_MINUTE (ceilings.ts). */
  ceilings: CeilingConfig
}

/** Below Cloud Run's 1,000 running executions per project and region: room for runs started by other means. */
export const DEFAULT_MAX_RUNNING_EXECUTIONS = 800
/** The largest JOBGATE_MAX_RUNNING_EXECUTIONS, and local mode's default: the embedded emulator has no quota. */
const MAX_RUNNING_EXECUTIONS = 100_000

const HOUR_MS = 3_600_000
export const EVENTS_RETENTION_MS = 24 * HOUR_MS
/** Pub/Sub's own longest message retention: an event older than that is not worth sending. */
export const OUTBOX_MAX_WAIT_MS = 7 * 24 * HOUR_MS

/** The service's name in ce-source: Cloud Run's K_SERVICE, else `jobgate`. */
function sourceOf (env: Env, project: string | undefined, region: string): string {
  return `//run.googleapis.com/projects/${project ?? 'local-project'}/locations/${region}/services/${text(env, 'K_SERVICE') ?? 'jobgate'}`
}

function pubsubEndpointOf (env: Env): { pubsubEndpoint: string, pubsubEmulator: boolean } {
  const host = text(env, 'PUBSUB_EMULATOR_HOST')
  if (host === undefined) return { pubsubEndpoint: 'https://pubsub.googleapis.com', pubsubEmulator: false }
  if (!/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(host)) throw new ConfigError('PUBSUB_EMULATOR_HOST', `${quote(host)} must be host:port`)
  return { pubsubEndpoint: `http://${host}`, pubsubEmulator: true }
}

export function loadLifecycleConfig (env: Env, project: string | undefined, region: string, local = false): LifecycleConfig {
  const topic = text(env, 'JOBGATE_EVENTS_TOPIC')
  const problem = topic === undefined ? undefined : topicProblem(topic)
  if (topic !== undefined && problem !== undefined) throw new ConfigError('JOBGATE_EVENTS_TOPIC', `${problem}, not ${quote(topic)}`)
  return {
    ...(topic !== undefined && { topic }),
    ...pubsubEndpointOf(env),
    source: sourceOf(env, project, region),
    leaseMs: wholeNumber(env, 'JOBGATE_LEASE_SECONDS', { fallback: 15, min: 2, max: 600 }) * 1000,
    retentionMs: EVENTS_RETENTION_MS,
    outboxMaxWaitMs: OUTBOX_MAX_WAIT_MS,
    ceilings: {
      maxRunningExecutions: wholeNumber(env, 'JOBGATE_MAX_RUNNING_EXECUTIONS', {
        fallback: local ? MAX_RUNNING_EXECUTIONS : DEFAULT_MAX_RUNNING_EXECUTIONS,
        min: 1,
        max: MAX_RUNNING_EXECUTIONS
      }),
      runStartsPerMinute: wholeNumber(env, 'JOBGATE_RUN_STARTS_PER_MINUTE', { fallback: 0, min: 0, max: 1_000_000 })
    }
  }
}
