/**
 * Two API instances (two apps, each with its own services and Firestore client) sharing the real
 * Firestore emulator and one Cloud Run emulator, as two Cloud Run instances of jobgate would:
 * duplicates split across both start one run.
 */
import t from 'tap'
import { call } from '../helpers/call.js'
import { startTwoInstances, storedDocuments } from '../helpers/firestore-instances.js'
import { auditLines } from '../helpers/log-capture.js'
import { RUN_PATH, runCalls } from './helpers.js'
import { declaredIndexesServe, recordFirestoreQueries } from '../helpers/firestore-query-indexes.js'

t.setTimeout(180_000)
const queries = recordFirestoreQueries(t) // the emulator serves any query; real Firestore only those with an index

const setup = await startTwoInstances(t, { jobs: ['echo'], catalog: { jobs: { echo: {} } }, collectionPrefix: 'instances' })
const { urls: instances, emulator, logs } = setup
t.comment(`Firestore emulator ready in ${setup.firestore.startupMs} ms`)

t.test('both instances use the Firestore store', async t => {
  t.match(logs.lines.find(line => line.store !== undefined)?.message, /Firestore collection "instances-/)
  // Warm both clients up (first connection, proto loading) so the race below is between requests, not start-ups.
  for (const url of instances) t.equal((await call(`${url}/v1/jobs/echo/runs`, { body: {}, headers: { 'idempotency-key': `warm-${url}` } })).status, 202)
})

t.test('50 concurrent duplicates split across two instances start exactly one run', async t => {
  emulator.failNext({ method: 'POST', pathPattern: RUN_PATH }, { delayMs: 300 })
  const before = runCalls(emulator)
  const body = { env: { OBJECT: 'gs://bucket/file.csv' } }
  const started = performance.now()
  const responses = await Promise.all(Array.from({ length: 50 }, async (_, i) =>
    await call(`${instances[i % 2] ?? ''}/v1/jobs/echo/runs`, { body, headers: { 'idempotency-key': 'shared-across-instances' } })))
  t.comment(`50 requests over 2 instances answered in ${Math.round(performance.now() - started)} ms`)
  t.equal(runCalls(emulator) - before, 1, 'exactly one jobs.run reached Cloud Run')
  const [first] = responses
  for (const response of responses) {
    t.equal(response.status, 202)
    t.same(response.body, first?.body)
  }
  t.equal(responses.filter(r => r.headers.get('idempotency-replayed') === null).length, 1, 'one original, 49 replays')
  t.equal(auditLines(logs.lines).filter(line => line.idempotencyKey === 'shared-across-instances' && line.outcome === 'started').length, 1)
})

t.test('a different body on the other instance is 422', async t => {
  const first = await call(`${instances[0] ?? ''}/v1/jobs/echo/runs`, { body: { env: { A: '1' } }, headers: { 'idempotency-key': 'cross-body' } })
  t.equal(first.status, 202)
  const other = await call(`${instances[1] ?? ''}/v1/jobs/echo/runs`, { body: { env: { A: '2' } }, headers: { 'idempotency-key': 'cross-body' } })
  t.equal(other.status, 422)
})

t.test('the stored record is one Firestore document per scoped key, with the TTL field', async t => {
  const documents = await storedDocuments(setup, 100)
  t.equal(documents.length, 4, 'two warm-ups, the burst key and the 422 key')
  for (const doc of documents) {
    t.equal(doc.fields.state?.stringValue, 'done')
    t.type(doc.fields.expireAt?.timestampValue, 'string')
  }
})

t.test('a runs-list page token one instance handed out opens on the other: the day\'s key is one Firestore document', async t => {
  const [one, other] = instances
  const first = await call(`${one}/v1/jobs/echo/runs?pageSize=1`)
  t.equal(first.status, 200)
  const token = first.body.nextPageToken as string
  t.ok(token !== undefined, 'more than one run: a token')
  const next = await call(`${other}/v1/jobs/echo/runs?pageSize=1&pageToken=${token}`)
  t.equal(next.status, 200, JSON.stringify(next.body).slice(0, 200))
  t.equal(next.body.runs.length, 1)
  t.not(next.body.runs[0].name, first.body.runs[0].name, 'the page after, on the other instance')
  const documents = await storedDocuments(setup, 100)
  t.equal(documents.length, 5, 'the four keys above and the key of the day')
})

declaredIndexesServe(t, queries)
