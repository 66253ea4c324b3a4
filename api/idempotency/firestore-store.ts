import type { CollectionReference, Firestore, Timestamp } from '@google-cloud/firestore'
import type { ClaimResult, IdempotencyRecord, IdempotencyState, IdempotencyStore, StoredResponse } from './store.js'

export interface FirestoreStoreOptions {
  /** Collection holding one document per scoped key. */
  collection: string
  /** Project of the Firestore database; detected from the environment when absent. */
  projectId?: string
  /** `host:port` of a Firestore emulator. FIRESTORE_EMULATOR_HOST, when set, wins (the client's own rule). */
  emulatorHost?: string
  /** Clock in epoch ms. */
  now?: () => number
}

/**
 * One document per key. `expireAt` is the field for Firestore's TTL policy, which must be enabled on it
 * (`gcloud firestore fields ttls update expireAt --collection-group=COLLECTION --enable-ttl`); TTL deletion
 * lags by up to a day, so reads also compare `expiresAt` with the clock.
 */
interface StoredDocument {
  state: IdempotencyState
  fingerprint: string
  claimedAt: number
  expiresAt: number
  expireAt: Timestamp
  /** The response as JSON text: Firestore maps cannot hold every JSON value (e.g. nested arrays). */
  response?: string
}

/** Tries to take over an expired record this many times before giving up (each try loses only to a live claim). */
const claimAttempts = 5

/**
 * The store shared by several API instances: `create()` fails when the document exists, which makes the claim
 * atomic across instances. `@google-cloud/firestore` is imported only here, when this store is selected.
 */
export async function openFirestoreStore (options: FirestoreStoreOptions): Promise<IdempotencyStore> {
  const { Firestore, Timestamp } = await import('@google-cloud/firestore')
  const emulatorHost = process.env.FIRESTORE_EMULATOR_HOST || options.emulatorHost
  const db: Firestore = new Firestore({
    preferRest: true,
    ...(options.projectId === undefined ? {} : { projectId: options.projectId }),
    ...(emulatorHost === undefined ? {} : { host: emulatorHost, ssl: false, authClient: await emulatorAuthClient() })
  })
  return new FirestoreStore(db.collection(options.collection), Timestamp, options.now ?? Date.now)
}

/**
 * The REST transport asks for Google credentials even for the emulator (googleapis/nodejs-firestore#1811);
 * the emulator accepts the fixed token `owner`.
 */
async function emulatorAuthClient (): Promise<unknown> {
  const { OAuth2Client } = await import('google-auth-library')
  const client = new OAuth2Client()
  client.setCredentials({ access_token: 'owner' })
  return client
}

class FirestoreStore implements IdempotencyStore {
  constructor (
    private readonly documents: CollectionReference,
    private readonly timestamp: typeof Timestamp,
    private readonly now: () => number
  ) {}

  async claim (key: string, fingerprint: string, ttlMs: number): Promise<ClaimResult> {
    const doc = this.documents.doc(key)
    for (let attempt = 1; attempt <= claimAttempts; attempt++) {
      const claimedAt = this.now()
      const expiresAt = claimedAt + ttlMs
      const fresh: StoredDocument = { state: 'in_progress', fingerprint, claimedAt, expiresAt, expireAt: this.timestamp.fromMillis(expiresAt) }
      try {
        await doc.create(fresh)
        return { claimed: true }
      } catch (err) {
        if (statusOf(err) !== 'ALREADY_EXISTS') throw err
      }
      const snapshot = await doc.get()
      if (!snapshot.exists) continue // released meanwhile: race for it again
      const record = recordOf(snapshot.data() as StoredDocument)
      if (record.expiresAt > this.now()) return { claimed: false, record }
      // Expired: delete exactly the version we read, so of all instances taking it over only one create() wins.
      try {
        await doc.delete({ lastUpdateTime: snapshot.updateTime })
      } catch (err) {
        if (statusOf(err) !== 'FAILED_PRECONDITION') throw err
      }
    }
    throw new Error(`idempotency record ${key} kept changing during ${claimAttempts} claim attempts`)
  }

  async get (key: string): Promise<IdempotencyRecord | undefined> {
    const snapshot = await this.documents.doc(key).get()
    if (!snapshot.exists) return undefined
    const record = recordOf(snapshot.data() as StoredDocument)
    return record.expiresAt > this.now() ? record : undefined
  }

  async finish (key: string, state: 'done' | 'unknown', response: StoredResponse): Promise<void> {
    await this.documents.doc(key).update({ state, response: JSON.stringify(response) })
  }

  async release (key: string): Promise<void> {
    await this.documents.doc(key).delete()
  }

  async close (): Promise<void> {
    await this.documents.firestore.terminate()
  }
}

function recordOf (stored: StoredDocument): IdempotencyRecord {
  const record: IdempotencyRecord = {
    state: stored.state,
    fingerprint: stored.fingerprint,
    claimedAt: stored.claimedAt,
    expiresAt: stored.expiresAt
  }
  if (stored.response !== undefined) record.response = JSON.parse(stored.response) as StoredResponse
  return record
}

const grpcStatusNames: Record<number, string> = { 5: 'NOT_FOUND', 6: 'ALREADY_EXISTS', 9: 'FAILED_PRECONDITION' }

/**
 * The canonical status of a Firestore error. Over gRPC it is the numeric `code`; over REST the client
 * surfaces the HTTP error, whose code (409, 400) is ambiguous, but whose body names the status.
 */
export function statusOf (err: unknown): string | undefined {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown }
  const named = typeof message === 'string' ? /"status"\s*:\s*"([A-Z_]+)"/.exec(message)?.[1] : undefined
  return named ?? (typeof code === 'number' ? grpcStatusNames[code] : undefined)
}
