import { setTimeout as sleep } from 'node:timers/promises'
import type { Firestore, Timestamp } from '@google-cloud/firestore'
import { googleAuthLibrary } from '../google/auth-library.js'
import type { IdempotencyConfig } from './config.js'

export interface FirestoreClientOptions {
  /** Project of the Firestore database; detected from the environment when absent. */
  projectId?: string
  /** The database; default `(default)`. */
  databaseId?: string
  /** `host:port` of a Firestore emulator. FIRESTORE_EMULATOR_HOST, when set, wins (the client's own rule). */
  emulatorHost?: string
}

export interface FirestoreClient {
  db: Firestore
  timestamp: typeof Timestamp
}

/** Where every Firestore user of the process connects (keys, leases, …): the configured project and database. */
export function firestoreTarget (config: { project?: string | undefined, idempotency: Pick<IdempotencyConfig, 'database'> }): FirestoreClientOptions {
  return { ...(config.project !== undefined && { projectId: config.project }), databaseId: config.idempotency.database }
}

/** A Firestore client over REST; `@google-cloud/firestore` is imported only here, when a Firestore store is selected. */
export async function openFirestoreClient (options: FirestoreClientOptions): Promise<FirestoreClient> {
  const { Firestore, Timestamp } = await import('@google-cloud/firestore')
  const emulatorHost = process.env.FIRESTORE_EMULATOR_HOST || options.emulatorHost
  const db: Firestore = new Firestore({
    preferRest: true,
    ...(options.projectId === undefined ? {} : { projectId: options.projectId }),
    ...(options.databaseId === undefined ? {} : { databaseId: options.databaseId }),
    ...(emulatorHost === undefined ? {} : { host: emulatorHost, ssl: false, authClient: await emulatorAuthClient() })
  })
  return { db, timestamp: Timestamp }
}

/**
 * The REST transport asks for Google credentials even for the emulator (googleapis/nodejs-firestore#1811);
 * the emulator accepts the fixed token `owner`.
 */
async function emulatorAuthClient (): Promise<unknown> {
  const { OAuth2Client } = await googleAuthLibrary()
  const client = new OAuth2Client()
  client.setCredentials({ access_token: 'owner' })
  return client
}

/** Tries of a write that Firestore aborted for contention (the emulator's lock timeout under a burst on one document). */
const abortedAttempts = 10

/** Repeats a write aborted by contention after a short random pause; it fails only if contention outlasts every try. */
export async function whileAborted<T> (write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write()
    } catch (err) {
      if (statusOf(err) !== 'ABORTED' || attempt >= abortedAttempts) throw err
      await sleep(10 + Math.random() * 40 * attempt)
    }
  }
}

const grpcStatusNames: Record<number, string> = { 5: 'NOT_FOUND', 6: 'ALREADY_EXISTS', 9: 'FAILED_PRECONDITION', 10: 'ABORTED' }

/**
 * The canonical status of a Firestore error. Over gRPC it is the numeric `code`; over REST the client
 * surfaces the HTTP error, whose code (409, 400) is ambiguous, but whose body names the status.
 */
export function statusOf (err: unknown): string | undefined {
  const { code, message } = (err ?? {}) as { code?: unknown, message?: unknown }
  const named = typeof message === 'string' ? /"status"\s*:\s*"([A-Z_]+)"/.exec(message)?.[1] : undefined
  return named ?? (typeof code === 'number' ? grpcStatusNames[code] : undefined)
}
