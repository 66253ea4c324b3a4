import { randomUUID } from 'node:crypto'
import { CachedTokenSource, metadataServerFetcher } from '../../api/google/token.js'
import { startEmulator, type Emulator } from '../../emulator/index.js'
import { build, type Built } from '../helper.js'
import { startFirestoreEmulator, type RunningEmulator, type TeardownHost } from './gcloud-emulators.js'
import { captureLogs, type CapturedLogs } from './log-capture.js'
import { cloudModeAgainst } from '../../emulator/jobgate-env.js'

export interface TwoInstances {
  /** The two API instances' base URLs. */
  urls: [string, string]
  /** The two instances (their services: each one's run lifecycle). */
  stacks: [Built, Built]
  emulator: Emulator
  firestore: RunningEmulator
  /** This test's own Firestore collection, shared by both instances. */
  collection: string
  /** Both instances' log lines, in one list. */
  logs: CapturedLogs
}

/**
 * Two jobgate instances as two Cloud Run instances would be: each with its own services and
 * Firestore client, sharing the real Firestore emulator and one Cloud Run emulator (token from
 * its metadata server).
 */
export interface TwoInstancesOptions {
  /** The Cloud Run jobs the emulator holds. */
  jobs: string[]
  /** Both instances' JOBGATE_JOBS. */
  catalog: object
  collectionPrefix: string
}

export async function startTwoInstances (t: TeardownHost, options: TwoInstancesOptions): Promise<TwoInstances> {
  const firestore = await startFirestoreEmulator(t)
  // The Firestore emulator is shared with other test files: this file's project keeps its documents apart.
  const project = firestore.project
  // The Firestore client's own variable: both instances' stores talk to the emulator.
  process.env.FIRESTORE_EMULATOR_HOST = firestore.hostPort
  const collection = `${options.collectionPrefix}-${randomUUID()}`
  const emulator = await startEmulator({ projectId: project, region: 'us-central1', jobs: options.jobs.map(name => ({ project, name })) })
  t.teardown(async () => await emulator.close())
  // google-auth-library's own variable: both instances take their access token from the emulator's metadata server.
  process.env.GCE_METADATA_HOST = emulator.hostPort
  const logs = captureLogs()
  const startInstance = async (): Promise<Built> => {
    return await build(t, {
      env: {
        ...cloudModeAgainst(emulator, project),
        JOBGATE_JOBS: JSON.stringify(options.catalog),
        JOBGATE_IDEMPOTENCY: 'firestore',
        JOBGATE_IDEMPOTENCY_COLLECTION: collection,
        JOBGATE_RATE_LIMIT: '100000'
      },
      services: { logger: logs.logger, tokens: new CachedTokenSource(metadataServerFetcher()) },
      listen: true
    })
  }
  const stacks = await Promise.all([startInstance(), startInstance()])
  return { urls: [stacks[0].url, stacks[1].url], stacks, emulator, firestore, collection, logs }
}

interface StoredDocument { name: string, fields: Record<string, any> }

/** The idempotency keys and concurrency leases of the instances' collection (the run lifecycle's job leases, also there, left out). */
export async function storedDocuments (setup: TwoInstances, pageSize: number): Promise<StoredDocument[]> {
  const { firestore, collection } = setup
  const url = `http://${firestore.hostPort}/v1/projects/${firestore.project}/databases/(default)/documents/${collection}?pageSize=${pageSize}`
  const res = await fetch(url, { headers: { authorization: 'Bearer owner' } })
  const { documents = [] } = await res.json() as { documents?: StoredDocument[] }
  return documents.filter(doc => !doc.name.includes('/reconciler-'))
}
