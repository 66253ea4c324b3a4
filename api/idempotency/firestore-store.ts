import type { CollectionReference, Timestamp } from '@google-cloud/firestore'
import { openFirestoreClient, statusOf, whileAborted, type FirestoreClientOptions } from './firestore-client.js'
import type { ClaimResult, IdempotencyRecord, IdempotencyState, IdempotencyStore, StoredResponse } from './store.js'

export { statusOf }

export interface FirestoreStoreOptions extends FirestoreClientOptions {
  /** Collection holding one document per scoped key. */
  collection: string
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
 * atomic across instances.
 */
export async function openFirestoreStore (options: FirestoreStoreOptions): Promise<IdempotencyStore> {
  const { db, timestamp } = await openFirestoreClient(options)
  return new FirestoreStore(db.collection(options.collection), timestamp, options.now ?? Date.now)
}

class FirestoreStore implements IdempotencyStore {
  readonly #documents: CollectionReference
  readonly #timestamp: typeof Timestamp
  readonly #now: () => number

  constructor (
    documents: CollectionReference,
    timestamp: typeof Timestamp,
    now: () => number
  ) {
    this.#documents = documents
    this.#timestamp = timestamp
    this.#now = now
  }

  async claim (key: string, fingerprint: string, ttlMs: number): Promise<ClaimResult> {
    const doc = this.#documents.doc(key)
    for (let attempt = 1; attempt <= claimAttempts; attempt++) {
      const claimedAt = this.#now()
      const expiresAt = claimedAt + ttlMs
      const fresh: StoredDocument = { state: 'in_progress', fingerprint, claimedAt, expiresAt, expireAt: this.#timestamp.fromMillis(expiresAt) }
      try {
        await whileAborted(async () => await doc.create(fresh))
        return { claimed: true }
      } catch (err) {
        if (statusOf(err) !== 'ALREADY_EXISTS') throw err
      }
      const snapshot = await doc.get()
      if (!snapshot.exists) continue // released meanwhile: race for it again
      const record = recordOf(snapshot.data() as StoredDocument)
      if (record.expiresAt > this.#now()) return { claimed: false, record }
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
    const snapshot = await this.#documents.doc(key).get()
    if (!snapshot.exists) return undefined
    const record = recordOf(snapshot.data() as StoredDocument)
    return record.expiresAt > this.#now() ? record : undefined
  }

  async finish (key: string, state: 'done' | 'unknown', response: StoredResponse): Promise<void> {
    await this.#documents.doc(key).update({ state, response: JSON.stringify(response) })
  }

  async release (key: string): Promise<void> {
    await this.#documents.doc(key).delete()
  }

  async close (): Promise<void> {
    await this.#documents.firestore.terminate()
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
