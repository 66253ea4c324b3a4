/**
 * One source of a run's state: while the job's reconciler follows a run, live readers (?wait, plain
 * reads, event streams) take its view; they add no executions.get of their own.
 */
import t from 'tap'
import { CachedTokenSource, metadataServerFetcher } from '../../api/google/token.js'
import { startEmulator, type RecordedRequest } from '../../emulator/index.js'
import { build } from '../helper.js'
import { until } from './helpers.js'
import { cloudModeAgainst } from '../../emulator/jobgate-env.js'

t.setTimeout(240_000)

const PROJECT = 'one-source'
const emulator = await startEmulator({
  projectId: PROJECT,
  region: 'us-central1',
  jobs: [{ project: PROJECT, name: 'sleeper', command: ['sleep', '6'], maxRetries: 0 }]
})
t.teardown(async () => { await emulator.close() })
process.env.GCE_METADATA_HOST = emulator.hostPort
const stack = await build(t, {
  env: {
    ...cloudModeAgainst(emulator, PROJECT),
    JOBGATE_JOBS: JSON.stringify({ jobs: { sleeper: {} } }),
    JOBGATE_RATE_LIMIT: '100000'
  },
  services: { tokens: new CachedTokenSource(metadataServerFetcher()) }
})

const gets = (since: number, run: string): number =>
  emulator.requests.slice(since).filter((request: RecordedRequest) => request.method === 'GET' && request.path.endsWith(`/executions/${run}`)).length

t.test('10 callers wait on a followed run: no executions.get, and they hear of its end from the reconciler', async t => {
  const started = await stack.app.inject({ method: 'POST', url: '/v1/jobs/sleeper/runs', payload: {} })
  const { name } = started.json<{ name: string }>()
  // Once the reconciler has listed the run, it is the run's source.
  await until(() => stack.services.lifecycle.runs.latest(stack.config.catalog.get('sleeper') as never, name) !== undefined, 60_000, 'the first list')
  const from = emulator.requests.length
  const waits = await Promise.all(Array.from({ length: 10 }, async () =>
    await stack.app.inject({ method: 'GET', url: `/v1/jobs/sleeper/runs/${name}?wait=60` })))
  t.ok(waits.every(response => response.statusCode === 200 && response.json<{ state: string }>().state === 'SUCCEEDED'), 'all ten saw it end')
  const plain = await stack.app.inject({ method: 'GET', url: `/v1/jobs/sleeper/runs/${name}` })
  t.equal(plain.json<{ state: string }>().state, 'SUCCEEDED')
  t.equal(gets(from, name), 0, 'no executions.get for the run: the reconciler\'s lists were its only reads')
  t.ok(stack.services.lifecycle.runs.lists > 0, 'the reconciler listed')
})
