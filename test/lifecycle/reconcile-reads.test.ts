/**
 * One observer per job, not per run: 40 running runs of one job that nobody watches cost a few
 * executions.list calls over 30 s (one per poll interval), no executions.get, and nothing once they ended.
 */
import t from 'tap'
import { CachedTokenSource, metadataServerFetcher } from '../../api/google/token.js'
import { startEmulator, type RecordedRequest } from '../../emulator/index.js'
import { build } from '../helper.js'
import { until } from './helpers.js'
import { cloudModeAgainst } from '../../emulator/jobgate-env.js'

t.setTimeout(240_000)

const PROJECT = 'reads-project'
const emulator = await startEmulator({
  projectId: PROJECT,
  region: 'us-central1',
  jobs: [{ project: PROJECT, name: 'sleeper', command: ['sleep', '120'], maxRetries: 0 }]
})
t.teardown(async () => { await emulator.close() })
// google-auth-library's own variable: the access token comes from the emulator's metadata server, as on Cloud Run.
process.env.GCE_METADATA_HOST = emulator.hostPort
const stack = await build(t, {
  env: {
    ...cloudModeAgainst(emulator, PROJECT),
    JOBGATE_JOBS: JSON.stringify({ jobs: { sleeper: {} } }),
    JOBGATE_RATE_LIMIT: '100000',
    // The 40 cancels at the end are the test's own reads: they must not run out of the caller's share.
    JOBGATE_RUN_READS_PER_MINUTE: '60000'
  },
  services: { tokens: new CachedTokenSource(metadataServerFetcher()) }
})

const isList = (request: RecordedRequest): boolean => request.method === 'GET' && /\/executions$/.test(request.path)
const isGet = (request: RecordedRequest): boolean => request.method === 'GET' && /\/executions\/[^/]+$/.test(request.path)
const count = (since: number, match: (request: RecordedRequest) => boolean): number => emulator.requests.slice(since).filter(match).length
const running = (): number => emulator.executions(PROJECT, 'sleeper').filter(run => (run.status.runningCount ?? 0) > 0).length

const names: string[] = []
t.before(async () => {
  for (let i = 0; i < 40; i++) {
    const response = await stack.app.inject({ method: 'POST', url: '/v1/jobs/sleeper/runs', payload: {} })
    if (response.statusCode !== 202) throw new Error(`start ${i}: ${response.statusCode} ${response.body}`)
    names.push(response.json<{ name: string }>().name)
  }
  await until(() => running() === 40, 120_000, '40 running runs')
})

t.test('40 running runs, nobody watching: at most one list per poll interval over 30 s, no per-run reads', async t => {
  const from = emulator.requests.length
  const windowMs = 30_000
  // The measurement is the window itself: what the reconciler reads while nothing asks.
  await new Promise(resolve => setTimeout(resolve, windowMs))
  const lists = count(from, isList)
  const gets = count(from, isGet)
  t.comment(`${lists} executions.list and ${gets} executions.get calls in ${windowMs / 1000} s for 40 running runs`)
  t.ok(lists >= 3, 'the reconciler keeps looking while runs are unfinished')
  t.ok(lists <= 12, `at most about one list per 5 s interval (${lists})`)
  t.equal(gets, 0, 'no read per run')
  const [reconciler] = stack.services.lifecycle.runs.reconcilers
  t.equal(reconciler?.following, 40, 'one reconciler follows all 40')
})

t.test('once every run ended, the reconciler stops: no more reads', async t => {
  await Promise.all(names.map(async name => {
    const response = await stack.app.inject({ method: 'POST', url: `/v1/jobs/sleeper/runs/${name}/cancel` })
    if (response.statusCode !== 200) throw new Error(`cancel ${name}: ${response.statusCode}`)
  }))
  await until(() => stack.services.lifecycle.runs.reconcilers.length === 0, 60_000, 'the reconciler to let the job go')
  const from = emulator.requests.length
  await new Promise(resolve => setTimeout(resolve, 6_000))
  t.equal(count(from, isList) + count(from, isGet), 0, 'no reads with no unfinished run')
})
