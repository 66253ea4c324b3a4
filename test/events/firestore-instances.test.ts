/**
 * Two API instances (two apps, each with its own services and Firestore client) sharing the real
 * Firestore emulator and one Cloud Run emulator, as two Cloud Run instances of jobgate would:
 * duplicates split across both start one run.
 */
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { CachedTokenSource, metadataServerFetcher } from '../../api/google/token.js'
import { startEmulator } from '../../emulator/index.js'
import { build } from '../helper.js'
import { call } from '../helpers/call.js'
import { auditLines, captureLogs } from '../helpers/log-capture.js'
import { startFirestoreEmulator } from '../helpers/gcloud-emulators.js'
import { RUN_PATH, runCalls } from './helpers.js'

t.setTimeout(180_000)

const firestore = await startFirestoreEmulator(t)
t.comment(`Firestore emulator ready in ${firestore.startupMs} ms`)
// The Firestore client's own variable: both instances' stores talk to the emulator.
process.env.FIRESTORE_EMULATOR_HOST = firestore.hostPort

const collection = `instances-${randomUUID()}`
const PROJECT = 'local-project'
const emulator = await startEmulator({ projectId: PROJECT, region: 'us-central1', jobs: [{ project: PROJECT, name: 'echo' }] })
t.teardown(async () => await emulator.close())
// google-auth-library's own variable: both instances take their access token from the emulator's metadata server.
process.env.GCE_METADATA_HOST = emulator.hostPort
const logs = captureLogs()

async function startInstance (): Promise<string> {
  const { url } = await build(t, {
    env: {
      JOBGATE_MODE: 'cloud',
      JOBGATE_AUTH: 'none',
      JOBGATE_ALLOW_UNAUTHENTICATED: 'true',
      GOOGLE_CLOUD_PROJECT: PROJECT,
      CLOUD_RUN_API_ENDPOINT: emulator.url,
      CLOUD_LOGGING_API_ENDPOINT: emulator.url,
      JOBGATE_JOBS: JSON.stringify({ jobs: { echo: {} } }),
      JOBGATE_IDEMPOTENCY: 'firestore',
      JOBGATE_IDEMPOTENCY_COLLECTION: collection,
      JOBGATE_RATE_LIMIT: '100000'
    },
    services: { logger: logs.logger, tokens: new CachedTokenSource(metadataServerFetcher()) },
    listen: true
  })
  return url
}

const instances = await Promise.all([startInstance(), startInstance()])

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
  const res = await fetch(`http://${firestore.hostPort}/v1/projects/local-project/databases/(default)/documents/${collection}?pageSize=100`, { headers: { authorization: 'Bearer owner' } })
  const { documents } = await res.json() as { documents: Array<{ fields: Record<string, any> }> }
  t.equal(documents.length, 4, 'two warm-ups, the burst key and the 422 key')
  for (const doc of documents) {
    t.equal(doc.fields.state?.stringValue, 'done')
    t.type(doc.fields.expireAt?.timestampValue, 'string')
  }
})
