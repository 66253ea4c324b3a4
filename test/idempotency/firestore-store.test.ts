/** The Firestore store against the real Firestore emulator: one emulator for this file, one collection per test. */
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import {
  createIdempotencyStore, fingerprint, firestoreTarget, loadIdempotencyConfig, openFirestoreStore, runOnce, type IdempotencyStore
} from '../../api/idempotency/index.js'
import { clearFirestore, startFirestoreEmulator } from '../helpers/gcloud-emulators.js'
import { closedPort } from '../helpers/misbehaving-server.js'
import { accepted, coordinatorSuite, fakeStart, optionsFor } from './coordinator-suite.js'
import { declaredIndexesServe, recordFirestoreQueries } from '../helpers/firestore-query-indexes.js'

// A JVM start-up on a shared 2-core machine can be slow.
t.setTimeout(180_000)
const queries = recordFirestoreQueries(t) // the emulator serves any query; real Firestore only those with an index

const emulator = await startFirestoreEmulator(t)
const projectId = emulator.project
t.comment(`Firestore emulator ready in ${emulator.startupMs} ms on ${emulator.hostPort}`)

/** A new client (as a separate API instance would have), closed when the file ends. */
async function openStore (collection: string): Promise<IdempotencyStore> {
  const store = await openFirestoreStore({ collection, projectId, emulatorHost: emulator.hostPort })
  t.teardown(async () => await store.close?.())
  return store
}

const shared = await openStore('coordinator')
// Warm the client up (proto loading, first connection) so timing-sensitive tests below measure the store.
await shared.get('warm-up')

t.test('runOnce with the Firestore store', async t => {
  coordinatorSuite(t, () => shared)
})

t.test('two API instances sharing the emulator: 50 duplicates split across both start one run', async t => {
  const collection = `two-instances-${randomUUID()}`
  const [a, b] = await Promise.all([openStore(collection), openStore(collection)])
  const options = optionsFor({ env: { OBJECT: 'gs://bucket/file.csv' } })
  const { start, calls } = fakeStart(async () => { await sleep(100); return accepted('run-shared') })
  const results = await Promise.all(Array.from({ length: 50 }, async (_, i) => await runOnce(i % 2 === 0 ? a : b, options, start)))
  t.equal(calls(), 1, 'start called exactly once')
  for (const result of results) t.same(result.response, accepted('run-shared'))
  t.equal(results.filter(r => !r.replayed).length, 1)
})

t.test('an expired record is taken over by exactly one of many racing claims', async t => {
  const collection = `takeover-${randomUUID()}`
  const [a, b] = await Promise.all([openStore(collection), openStore(collection)])
  t.same(await a.claim('k', 'old', 200), { claimed: true })
  await a.finish('k', 'done', accepted('old-run'))
  await sleep(250)
  const claims = await Promise.all(Array.from({ length: 20 }, async (_, i) => await (i % 2 === 0 ? a : b).claim('k', 'new', 60_000)))
  t.equal(claims.filter(c => c.claimed).length, 1, 'one winner')
  for (const c of claims) if (!c.claimed) t.match(c.record, { state: 'in_progress', fingerprint: 'new' })
  const record = await b.get('k')
  t.equal(record?.response, undefined, 'nothing of the expired record survives')
})

t.test('the document holds the TTL field, the state and the response as stored', async t => {
  const collection = `shape-${randomUUID()}`
  const store = await openStore(collection)
  const before = Date.now()
  await store.claim('k', 'f', 60_000)
  const response = { statusCode: 202, headers: { location: '/x' }, body: { matrix: [[1, 2], [3]], empty: {}, nothing: null } }
  await store.finish('k', 'done', response)
  const raw = await fetch(`http://${emulator.hostPort}/v1/projects/${projectId}/databases/(default)/documents/${collection}/k`, { headers: { authorization: 'Bearer owner' } })
  const doc = await raw.json() as { fields: Record<string, Record<string, string>> }
  t.equal(doc.fields.state?.stringValue, 'done')
  const expireAt = Date.parse(doc.fields.expireAt?.timestampValue ?? '')
  t.ok(expireAt >= before + 60_000 && expireAt <= Date.now() + 60_000, 'expireAt is a Timestamp one TTL ahead')
  t.same((await store.get('k'))?.response, response, 'nested arrays survive the round trip')
  await store.release('k')
  t.equal(await store.get('k'), undefined)
  await store.release('k')
  t.pass('releasing a missing key is fine')
})

t.test('finishing a key that is gone fails loudly (runOnce reports it)', async t => {
  const store = await openStore(`gone-${randomUUID()}`)
  await t.rejects(store.finish('missing', 'done', accepted('x')))
  const reported: string[] = []
  const options = optionsFor({}, { onStoreError: (_err, op) => reported.push(op) })
  const { start } = fakeStart(async () => { await store.release(options.key); return accepted('y') })
  t.same(await runOnce(store, options, start), { response: accepted('y'), replayed: false })
  t.same(reported, ['finish'])
})

t.test('createIdempotencyStore selects Firestore and its collection from the environment', async t => {
  const collection = `configured-${randomUUID()}`
  const config = loadIdempotencyConfig({ JOBGATE_IDEMPOTENCY: 'firestore', JOBGATE_IDEMPOTENCY_COLLECTION: collection })
  const store = await createIdempotencyStore(config, { projectId, emulatorHost: emulator.hostPort })
  t.teardown(async () => await store.close?.())
  const options = optionsFor({ a: 1 })
  await runOnce(store, options, fakeStart().start)
  const other = await openStore(collection)
  t.equal((await other.get(options.key))?.fingerprint, fingerprint({ a: 1 }))
})

t.test('JOBGATE_FIRESTORE_DATABASE picks the database the keys are written to', async t => {
  const collection = `named-${randomUUID()}`
  const config = loadIdempotencyConfig({
    JOBGATE_IDEMPOTENCY: 'firestore', JOBGATE_IDEMPOTENCY_COLLECTION: collection, JOBGATE_FIRESTORE_DATABASE: 'jobgate-state'
  })
  t.same(firestoreTarget({ project: projectId, idempotency: config }), { projectId, databaseId: 'jobgate-state' })
  t.same(firestoreTarget({ idempotency: config }), { databaseId: 'jobgate-state' }, 'no project: the client detects it')
  const target = firestoreTarget({ project: projectId, idempotency: config })
  const store = await createIdempotencyStore(config, { ...target, emulatorHost: emulator.hostPort })
  t.teardown(async () => await store.close?.())
  await store.claim('k', 'f', 60_000)
  const documentIn = async (database: string): Promise<number> =>
    (await fetch(`http://${emulator.hostPort}/v1/projects/${projectId}/databases/${database}/documents/${collection}/k`, { headers: { authorization: 'Bearer owner' } })).status
  t.equal(await documentIn('jobgate-state'), 200, 'the key is in the named database')
  t.equal(await documentIn('(default)'), 404, 'and not in the default one')
})

t.test('the emulator can be wiped between tests', async t => {
  const store = await openStore(`wipe-${randomUUID()}`)
  await store.claim('k', 'f', 60_000)
  await clearFirestore(emulator.hostPort, projectId)
  t.equal(await store.get('k'), undefined)
  await t.rejects(clearFirestore(emulator.hostPort, 'bad project id!'), /clearing the Firestore emulator failed/)
})

t.test('without an emulator or a project the store targets real Firestore, lazily (no request on open)', async t => {
  const store = await openFirestoreStore({ collection: 'unused' })
  await store.close?.()
  t.pass('opened and closed without network access')
})

t.test('with Firestore unreachable, runOnce answers 503 and starts nothing', async t => {
  const unreachable = await openFirestoreStore({ collection: 'c', projectId, emulatorHost: `127.0.0.1:${await closedPort()}` })
  t.teardown(async () => await unreachable.close?.())
  const { start, calls } = fakeStart()
  await t.rejects(runOnce(unreachable, optionsFor({}), start), { name: 'ApiError', status: 'UNAVAILABLE', httpCode: 503, runMayHaveStarted: false })
  t.equal(calls(), 0)
})

declaredIndexesServe(t, queries)
