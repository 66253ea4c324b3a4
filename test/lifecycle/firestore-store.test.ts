/** The Firestore lifecycle store against the real Firestore emulator, two clients standing for two API instances. */
import { randomUUID } from 'node:crypto'
import t from 'tap'
import type { JobCatalog, JobEntry } from '../../api/catalog.js'
import { ProjectCeilings } from '../../api/lifecycle/ceilings.js'
import { openFirestoreLifecycleStore, type FirestoreLifecycleStore } from '../../api/lifecycle/firestore-store.js'
import { startCountsUntil } from '../../api/lifecycle/run-record.js'
import { declaredIndexesServe, recordFirestoreQueries } from '../helpers/firestore-query-indexes.js'
import { startFirestoreEmulator } from '../helpers/gcloud-emulators.js'
import { lifecycleStoreSuite, recordOf, recordStart } from './store-suite.js'
import { queueStoreSuite } from './queue-store-suite.js'
import { batchStoreSuite } from './batch-store-suite.js'

t.setTimeout(180_000)
const queries = recordFirestoreQueries(t) // the emulator serves any query; real Firestore only those with an index

const emulator = await startFirestoreEmulator(t)
const projectId = emulator.project // the emulator is shared by the run's test files
const collection = `lifecycle-${randomUUID()}`

async function openStore (): Promise<FirestoreLifecycleStore> {
  const store = await openFirestoreLifecycleStore({
    collection,
    projectId,
    emulatorHost: emulator.hostPort,
    retentionMs: 86_400_000,
    unpublishedRetentionMs: 8 * 86_400_000
  })
  t.teardown(async () => await store.close())
  return store
}

const [a, b] = await Promise.all([openStore(), openStore()])

lifecycleStoreSuite(t, () => [a, b])
queueStoreSuite(t, () => [a, b])
batchStoreSuite(t, () => [a, b])

t.test('records begun on one instance reach the other through recordsSince, in begin order', async t => {
  const { cursor } = await b.recordsSince(undefined)
  const job = `since-${randomUUID().slice(0, 8)}`
  const first = recordOf(job)
  const second = recordOf(job)
  await a.begin(first)
  await a.begin(second)
  const caught = await b.recordsSince(cursor)
  t.same(caught.records.filter(record => record.job === job).map(record => record.id), [first.id, second.id])
  const again = await b.recordsSince(caught.cursor)
  t.same(again.records.filter(record => record.job === job), [], 'the new cursor is past them')
})

t.test('documents: records in {collection}-runs and events in {collection}-events, with the TTL field', async t => {
  const job = `docs-${randomUUID().slice(0, 8)}`
  const record = recordOf(job)
  await a.begin(record)
  const event = await recordStart(a, record, `${job}-x`)
  const base = `http://${emulator.hostPort}/v1/projects/${projectId}/databases/(default)/documents`
  const read = async (path: string): Promise<{ fields: Record<string, Record<string, string>> }> =>
    await (await fetch(`${base}/${path}`, { headers: { authorization: 'Bearer owner' } })).json() as never
  const stored = await read(`${collection}-runs/${record.id}`)
  t.equal(stored.fields.phase?.stringValue, 'started')
  t.ok(Date.parse(stored.fields.expireAt?.timestampValue ?? '') > Date.now() + 86_400_000, 'an open record outlives any run')
  const logged = await read(`${collection}-events/${encodeURIComponent((event?.id ?? '').replaceAll('/', '|'))}`)
  t.equal(logged.fields.type?.stringValue, 'jobgate.run.started')
  t.equal(logged.fields.published?.booleanValue, false as never)
  t.ok(Date.parse(logged.fields.expireAt?.timestampValue ?? '') > Date.now() + 7 * 86_400_000, 'an unpublished event waits up to the outbox bound')
  await a.markPublished([event?.id as string])
  const sent = await read(`${collection}-events/${encodeURIComponent((event?.id ?? '').replaceAll('/', '|'))}`)
  t.ok(Date.parse(sent.fields.expireAt?.timestampValue ?? '') < Date.now() + 2 * 86_400_000, 'a published one lives for the retention window')
})

t.test('a lease whose holder stopped renewing is an orphan once it lapsed', async t => {
  const job = `orphan-${randomUUID().slice(0, 8)}`
  await a.begin(recordOf(job))
  await a.leases.acquire(job, { holder: 'dead', ttlMs: 60_000 })
  t.same(await b.leases.orphaned([job], Date.now()), [], 'not while it lasts')
  t.same(await b.leases.orphaned([job], Date.now() + 61_000), [job], 'lapsed with work left')
  t.equal(await b.leases.acquire(job, { holder: 'alive', ttlMs: 60_000 }), false, 'not taken before it lapsed')
})

t.test('the project ceilings over Firestore: 20 starts checked at once under a ceiling of 5 begin 5', async t => {
  const job = `ceil-${randomUUID().slice(0, 8)}`
  const entry = { id: job, project: 'p', region: 'r' } as unknown as JobEntry
  const catalog = new Map([[job, entry]]) as unknown as JobCatalog
  const ceilings = new ProjectCeilings(a, catalog, { maxRunningExecutions: 1_000, runStartsPerMinute: 5 }, Date.now)
  const outcomes = await Promise.all(Array.from({ length: 20 }, async () =>
    await ceilings.within(entry, async () => { await a.begin(recordOf(job, { startCountsUntil: startCountsUntil(Date.now(), false) })) })))
  t.equal(outcomes.filter(outcome => 'begun' in outcome).length, 5, 'five began, each counted by the next check')
  t.equal(await a.countRecentStarts([job], Date.now()), 5)
})

declaredIndexesServe(t, queries, { everyIndexNeeded: true })
