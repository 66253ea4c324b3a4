/**
 * The race the lease closes: two API instances (two apps, each with its own Firestore client) sharing the
 * real Firestore emulator and one Cloud Run emulator; 50 concurrent starts for one tenant, split across
 * both, start exactly maxRunning runs.
 */
import t from 'tap'
import { call } from '../helpers/call.js'
import { startTwoInstances, storedDocuments } from '../helpers/firestore-instances.js'
import { auditLines } from '../helpers/log-capture.js'
import { RUN_PATH, runCalls } from '../events/helpers.js'
import { declaredIndexesServe, recordFirestoreQueries } from '../helpers/firestore-query-indexes.js'

t.setTimeout(240_000)
const queries = recordFirestoreQueries(t) // the emulator serves any query; real Firestore only those with an index

const MAX_RUNNING = 2
const catalog = {
  jobs: {
    report: { env: { tenantKey: 'TENANT_ID' }, concurrency: { policy: 'Forbid', maxRunning: MAX_RUNNING, scope: 'tenant' } },
    nightly: { concurrency: { policy: 'Forbid' } }
  }
}
const setup = await startTwoInstances(t, { jobs: ['report', 'nightly'], catalog, collectionPrefix: 'race' })
const { urls: instances, emulator, logs } = setup
const url = (i: number): string => instances[i % 2] ?? ''
const SLEEP = { ECHO_SLEEP_MS: '600000' }

t.test('50 concurrent starts for one tenant across two instances start exactly maxRunning runs', async t => {
  // Warm both Firestore clients up, so the race is between requests, not client start-ups.
  for (const [i, tenant] of ['warm-a', 'warm-b'].entries()) {
    const warm = await call(`${url(i)}/v1/jobs/report/runs`, { body: { env: { TENANT_ID: tenant } } })
    t.equal(warm.status, 202)
    await call(`${url(i)}/v1/jobs/report/runs/${warm.body.name}/cancel`, { method: 'POST' })
  }
  const before = runCalls(emulator)
  const responses = await Promise.all(Array.from({ length: 50 }, async (_, i) =>
    await call(`${url(i)}/v1/jobs/report/runs`, { body: { env: { TENANT_ID: 'acme', ...SLEEP } } })))
  const started = responses.filter(r => r.status === 202)
  t.equal(started.length, MAX_RUNNING, 'exactly maxRunning answered 202')
  t.equal(runCalls(emulator) - before, MAX_RUNNING, 'exactly maxRunning jobs.run calls reached Cloud Run')
  const refused = responses.filter(r => r.status === 409)
  t.equal(refused.length, 50 - MAX_RUNNING, 'every other start: 409')
  for (const r of refused) t.equal(r.body.error.status, 'ABORTED')
  const names = started.map(r => r.body.name as string).sort()
  const namedLater = refused.filter(r => r.body.error.runningRuns.length === MAX_RUNNING)
  for (const r of namedLater) t.same([...r.body.error.runningRuns].sort(), names, 'a refusal after both started names both')
  t.equal(auditLines(logs.lines).filter(line => line.job === 'report' && line.outcome === 'started' && line.envNames.includes('ECHO_SLEEP_MS')).length, MAX_RUNNING)
  t.comment(`${refused.filter(r => r.body.error.runningRuns.length < MAX_RUNNING).length} refusals came while a start was still in flight`)

  const globex = await call(`${url(1)}/v1/jobs/report/runs`, { body: { env: { TENANT_ID: 'globex', ...SLEEP } } })
  t.equal(globex.status, 202, 'acme at its limit does not block globex, on either instance')
  await call(`${url(0)}/v1/jobs/report/runs/${globex.body.name}/cancel`, { method: 'POST' })

  // One run ends on one instance's watch; the other instance sees it ended and admits the next start.
  await call(`${url(0)}/v1/jobs/report/runs/${names[0] ?? ''}/cancel`, { method: 'POST' })
  const next = await call(`${url(1)}/v1/jobs/report/runs`, { body: { env: { TENANT_ID: 'acme', ...SLEEP } } })
  t.equal(next.status, 202, 'a place freed on one instance is seen by the other')
  t.equal((await call(`${url(0)}/v1/jobs/report/runs`, { body: { env: { TENANT_ID: 'acme', ...SLEEP } } })).status, 409)
  for (const run of [names[1], next.body.name]) await call(`${url(0)}/v1/jobs/report/runs/${run as string}/cancel`, { method: 'POST' })
})

t.test('job scope: 50 concurrent starts over two instances, one run', async t => {
  emulator.failNext({ method: 'POST', pathPattern: RUN_PATH }, { delayMs: 300 })
  const before = runCalls(emulator)
  const responses = await Promise.all(Array.from({ length: 50 }, async (_, i) => await call(`${url(i)}/v1/jobs/nightly/runs`, { body: { env: SLEEP } })))
  t.equal(runCalls(emulator) - before, 1)
  t.same(responses.map(r => r.status).sort(), [202, ...Array.from({ length: 49 }, () => 409)])
  const run = responses.find(r => r.status === 202)?.body.name as string
  await call(`${url(1)}/v1/jobs/nightly/runs/${run}/cancel`, { method: 'POST' })
})

t.test('the slots are documents beside the idempotency keys', async t => {
  const documents = await storedDocuments(setup, 300)
  const slots = documents.filter(doc => /\/lease-[0-9a-f]{64}-\d+$/.test(doc.name))
  t.ok(slots.length >= 1, 'lease documents exist')
  for (const doc of slots) t.match(doc.fields.scope?.stringValue, new RegExp(`^\\["${setup.firestore.project}","us-central1","(report|nightly)",`))
})

declaredIndexesServe(t, queries)
