import { createHash } from 'node:crypto'
import type { CollectionReference, DocumentReference, DocumentSnapshot, Timestamp } from '@google-cloud/firestore'
import { openFirestoreClient, statusOf, whileAborted, type FirestoreClientOptions } from '../idempotency/firestore-client.js'
import type { HeldSlot, Lease, LeaseStore } from './lease-store.js'

export interface FirestoreLeaseStoreOptions extends FirestoreClientOptions {
  /** The idempotency keys' collection: slot documents live beside them (ids `lease-…`) and share its TTL policy. */
  collection: string
}

/** One document per slot; `expireAt` lets the collection's TTL policy delete a lease nobody cleaned up. */
interface SlotDocument extends Lease {
  /** Readable for operators: the job (and tenant) and the slot number. */
  scope: string
  slot: number
  expireAt: Timestamp
}

/**
 * Slots shared by all instances: `create()` fails when the document exists, which makes a claim atomic;
 * an eviction deletes only the version that was read (`lastUpdateTime` precondition); the holder's own
 * changes (run attached, release) are single-document transactions.
 */
export class FirestoreLeaseStore implements LeaseStore {
  readonly #documents: CollectionReference
  readonly #timestamp: typeof Timestamp

  constructor (documents: CollectionReference, timestamp: typeof Timestamp) {
    this.#documents = documents
    this.#timestamp = timestamp
  }

  #doc (scope: string, slot: number): DocumentReference {
    return this.#documents.doc(slotDocumentId(scope, slot))
  }

  async read (scope: string, slots: number): Promise<HeldSlot[]> {
    const refs = Array.from({ length: slots }, (_, slot) => this.#doc(scope, slot))
    const snapshots = await this.#documents.firestore.getAll(...refs)
    return snapshots.flatMap((snapshot, slot) => snapshot.exists ? [{ slot, lease: leaseOf(snapshot), version: versionOf(snapshot) }] : [])
  }

  async claim (scope: string, slot: number, lease: Lease): Promise<boolean> {
    try {
      await whileAborted(
        async () =>
          await this.#doc(scope, slot).create({
            ...lease,
            scope,
            slot,
            expireAt: this.#timestamp.fromMillis(lease.expiresAt)
          } satisfies SlotDocument)
      )
      return true
    } catch (err) {
      if (statusOf(err) === 'ALREADY_EXISTS') return false
      throw err
    }
  }

  async evict (scope: string, slot: number, version: string): Promise<boolean> {
    const [seconds, nanoseconds] = version.split(':').map(Number) as [number, number]
    try {
      await whileAborted(async () => await this.#doc(scope, slot).delete({ lastUpdateTime: new this.#timestamp(seconds, nanoseconds) }))
      return true
    } catch (err) {
      if (statusOf(err) === 'FAILED_PRECONDITION' || statusOf(err) === 'NOT_FOUND') return false
      throw err
    }
  }

  async attach (scope: string, slot: number, id: string, run: string, expiresAt: number): Promise<boolean> {
    const doc = this.#doc(scope, slot)
    return await this.#documents.firestore.runTransaction(async transaction => {
      const snapshot = await transaction.get(doc)
      if (!snapshot.exists || leaseOf(snapshot).id !== id) return false
      transaction.update(doc, { run, expiresAt, expireAt: this.#timestamp.fromMillis(expiresAt) })
      return true
    })
  }

  async release (scope: string, slot: number, id: string): Promise<void> {
    const doc = this.#doc(scope, slot)
    await this.#documents.firestore.runTransaction(async transaction => {
      const snapshot = await transaction.get(doc)
      if (snapshot.exists && leaseOf(snapshot).id === id) transaction.delete(doc)
    })
  }

  async close (): Promise<void> {
    await this.#documents.firestore.terminate()
  }
}

function leaseOf (snapshot: DocumentSnapshot): Lease {
  const stored = snapshot.data() as SlotDocument
  const lease: Lease = { id: stored.id, takenAt: stored.takenAt, expiresAt: stored.expiresAt }
  if (stored.run !== undefined) lease.run = stored.run
  return lease
}

const versionOf = (snapshot: DocumentSnapshot): string => {
  const time = snapshot.updateTime as Timestamp
  return `${time.seconds}:${time.nanoseconds}`
}

/** A slot of a scope (job and tenant) as a safe document id, apart from the idempotency keys' ids. */
export function slotDocumentId (scope: string, slot: number): string {
  return `lease-${createHash('sha256').update(scope).digest('hex')}-${slot}`
}

export async function openFirestoreLeaseStore (options: FirestoreLeaseStoreOptions): Promise<FirestoreLeaseStore> {
  const { db, timestamp } = await openFirestoreClient(options)
  return new FirestoreLeaseStore(db.collection(options.collection), timestamp)
}
