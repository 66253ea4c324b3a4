/** The Firestore lease store against the real Firestore emulator, two clients standing for two API instances. */
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { openFirestoreLeaseStore, slotDocumentId, type FirestoreLeaseStore } from '../../api/concurrency/firestore-lease-store.js'
import { startFirestoreEmulator } from '../helpers/gcloud-emulators.js'
import { leaseOf, leaseStoreSuite } from './lease-store-suite.js'

t.setTimeout(180_000)

const projectId = 'jobgate-test'
const emulator = await startFirestoreEmulator(t)
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

t.test('store errors other than a lost race reach the caller', async t => {
  const broken = await openFirestoreLeaseStore({ collection: 'x', projectId: 'Bad Project!', emulatorHost: emulator.hostPort })
  t.teardown(async () => await broken.close())
  await t.rejects(broken.claim('s', 0, leaseOf('a')))
  await t.rejects(broken.evict('s', 0, '1:2'))
})
