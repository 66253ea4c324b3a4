/**
 * Runs beyond one request (run records, one reconciler per job, the outbox, the event log): the one
 * entry point the rest of the API uses. Nothing outside this folder reaches into its other files.
 */
import type { Logger } from 'pino'
import type { JobCatalog, JobEntry } from '../catalog.js'
import type { CloudRunClient } from '../cloudrun/client.js'
import { GoogleHttp } from '../google/http.js'
import type { IdempotencyConfig } from '../idempotency/config.js'
import type { FirestoreClientOptions } from '../idempotency/index.js'
import type { LifecycleConfig } from './config.js'
import { EventFeed } from './event-feed.js'
import { RunLifecycle } from './lifecycle.js'
import { MemoryLifecycleStore } from './memory-store.js'
import { PubsubPublisher, type EventPublisher } from './pubsub-publisher.js'
import type { ReadAllowance } from './reconciler.js'
import type { StoredEvent } from './run-record.js'
import type { LifecycleStore } from './store.js'

export { loadLifecycleConfig, type LifecycleConfig } from './config.js'
export { formatEventCursor, parseEventCursor, type EventFeed, type FeedListener } from './event-feed.js'
export type { PendingStart, RunLifecycle } from './lifecycle.js'
export type { AdmitStart } from './admission.js'
export type { ReadBatch } from './batches.js'
export type { RunRecord } from './run-record.js'
export { EVENT_TYPES, RUN_MARKER, type EventCursor, type StoredEvent } from './run-record.js'

export interface LifecycleSetup {
  config: LifecycleConfig
  /** Where state lives: memory, or Firestore shared by every instance (JOBGATE_IDEMPOTENCY). */
  idempotency: Pick<IdempotencyConfig, 'store' | 'collection' | 'staleMs'>
  /** The Firestore project and database every Firestore user of the process shares (firestoreTarget). */
  firestore?: FirestoreClientOptions
  catalog: JobCatalog
  cloudRun: Pick<CloudRunClient, 'listExecutions' | 'getExecution'>
  budget: ReadAllowance
  /** jobgate's Google HTTP layer: Pub/Sub is published through it (no client library to load). */
  http: GoogleHttp
  log: Logger
  runEnded?: (entry: JobEntry, name: string) => Promise<unknown>
  /** A test's store; default: the one `idempotency.store` selects. */
  store?: LifecycleStore
}

export interface Lifecycle {
  runs: RunLifecycle
  feed: EventFeed
  close: () => Promise<void>
}

async function openStore (setup: LifecycleSetup, onDrop: (event: StoredEvent) => void): Promise<LifecycleStore> {
  if (setup.store !== undefined) return setup.store
  const { idempotency, config, log } = setup
  if (idempotency.store === 'memory') {
    return new MemoryLifecycleStore({
      onDrop: dropped => {
        if ('event' in dropped) onDrop(dropped.event)
        else log.error({ run: dropped.record.id }, `run events: too many unfinished runs in memory; run ${dropped.record.id} is no longer followed`)
      }
    })
  }
  // Firestore's client is loaded only when it is selected.
  const { openFirestoreLifecycleStore } = await import('./firestore-store.js')
  return await openFirestoreLifecycleStore({
    collection: idempotency.collection,
    retentionMs: config.retentionMs,
    unpublishedRetentionMs: config.outboxMaxWaitMs + 86_400_000,
    ...setup.firestore
  })
}

/** The topic's publisher and what closes it; the emulator takes any token, so none is fetched for it. */
function publisherOf (setup: LifecycleSetup): { publisher?: EventPublisher, close: () => Promise<void> } {
  const { config, http } = setup
  const { topic, pubsubEndpoint, source } = config
  if (topic === undefined) return { close: async () => {} }
  if (!config.pubsubEmulator) return { publisher: new PubsubPublisher(http, pubsubEndpoint, topic, source), close: async () => {} }
  const emulatorHttp = new GoogleHttp({ tokens: { getToken: async () => 'emulator' }, userAgent: 'jobgate' })
  return { publisher: new PubsubPublisher(emulatorHttp, pubsubEndpoint, topic, source), close: async () => { await emulatorHttp.close() } }
}

export async function openLifecycle (setup: LifecycleSetup): Promise<Lifecycle> {
  // The memory store reports drops to the outbox, which exists only once the store does.
  const outbox: { dropped?: (event: StoredEvent) => void } = {}
  const store = await openStore(setup, event => { outbox.dropped?.(event) })
  const { publisher, close: closePublisher } = publisherOf(setup)
  const runs = new RunLifecycle({
    config: setup.config,
    store,
    catalog: setup.catalog,
    cloudRun: setup.cloudRun,
    budget: setup.budget,
    log: setup.log,
    staleMs: setup.idempotency.staleMs,
    ...(publisher !== undefined && { publisher }),
    ...(setup.runEnded !== undefined && { runEnded: setup.runEnded })
  })
  outbox.dropped = event => { runs.outbox.dropped(event) }
  const feed = new EventFeed({ store, recorder: runs.recorder, retentionMs: setup.config.retentionMs, log: setup.log })
  return {
    runs,
    feed,
    close: async () => {
      await feed.close()
      await runs.close()
      await closePublisher()
      if (setup.store === undefined) await store.close?.()
    }
  }
}
