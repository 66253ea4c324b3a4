/** The Firestore lease store against the real Firestore emulator, two clients standing for two API instances. */
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { createLeaseStore } from '../../api/concurrency/create-lease-store.js'
import { openFirestoreLeaseStore, slotDocumentId, type FirestoreLeaseStore } from '../../api/concurrency/firestore-lease-store.js'
import { loadConfig } from '../../api/config.js'
import { firestoreTarget } from '../../api/idempotency/index.js'
import { startFirestoreEmulator } from '../helpers/gcloud-emulators.js'
import { leaseOf, leaseStoreSuite } from './lease-store-suite.js'
import { declaredIndexesServe, recordFirestoreQueries } from '../helpers/firestore-query-indexes.js'

t.setTimeout(180_000)
const queries = recordFirestoreQueries(t) // the emulator serves any query; real Firestore only those with an index

const emulator = await startFirestoreEmulator(t)
const projectId = emulator.project
const collection = `leases-${randomUUID()}`

async function openStore (): Promise<FirestoreLeaseStore> {
  const store = await openFirestoreLeaseStore({ collection, projectId, emulatorHost: emulator.hostPort })
  t.teardown(async () => await store.close())
  return store
}

const [a, b] = await Promise.all([openStore(), openStore()])

leaseStoreSuite(t, () => [a, b])

t.test('one document per slot beside the idempotency keys, with the TTL field at the lease\'s expiry', async t => {
  await a.claim('["p","r","echo","acme"]', 1, leaseOf('x', 9_000_000))
  const id = slotDocumentId('["p","r","echo","acme"]', 1)
  t.match(id, /^lease-[0-9a-f]{64}-1$/)
  const raw = await fetch(`http://${emulator.hostPort}/v1/projects/${projectId}/databases/(default)/documents/${collection}/${id}`, { headers: { authorization: 'Bearer owner' } })
  const doc = await raw.json() as { fields: Record<string, Record<string, string>> }
  t.equal(Date.parse(doc.fields.expireAt?.timestampValue ?? ''), 9_000_000)
  t.equal(doc.fields.scope?.stringValue, '["p","r","echo","acme"]', 'readable for an operator')
  await a.attach('["p","r","echo","acme"]', 1, 'x', 'echo-abcde', 12_000_000)
  const after = await (await fetch(`http://${emulator.hostPort}/v1/projects/${projectId}/databases/(default)/documents/${collection}/${id}`, { headers: { authorization: 'Bearer owner' } })).json() as { fields: Record<string, Record<string, string>> }
  t.equal(Date.parse(after.fields.expireAt?.timestampValue ?? ''), 12_000_000, 'the TTL field follows the new expiry')
})

t.test('leases go to the database JOBGATE_FIRESTORE_DATABASE names, like the keys', async t => {
  const config = loadConfig({
    JOBGATE_IDEMPOTENCY: 'firestore',
    JOBGATE_IDEMPOTENCY_COLLECTION: `named-${randomUUID()}`,
    JOBGATE_FIRESTORE_DATABASE: 'jobgate-state',
    GOOGLE_CLOUD_PROJECT: projectId,
    JOBGATE_JOBS: JSON.stringify({ jobs: { echo: { concurrency: { policy: 'Forbid' } } } })
  })
  const store = await createLeaseStore(config.idempotency, config.catalog, { ...firestoreTarget(config), emulatorHost: emulator.hostPort })
  t.teardown(async () => await store.close?.())
  await store.claim('scope', 0, leaseOf('x'))
  const url = `http://${emulator.hostPort}/v1/projects/${projectId}/databases/jobgate-state/documents/${config.idempotency.collection}/${slotDocumentId('scope', 0)}`
  t.equal((await fetch(url, { headers: { authorization: 'Bearer owner' } })).status, 200)
})

t.test('store errors other than a lost race reach the caller', async t => {
  const broken = await openFirestoreLeaseStore({ collection: 'x', projectId: 'Bad Project!', emulatorHost: emulator.hostPort })
  t.teardown(async () => await broken.close())
  await t.rejects(broken.claim('s', 0, leaseOf('a')))
  await t.rejects(broken.evict('s', 0, '1:2'))
})

declaredIndexesServe(t, queries)
