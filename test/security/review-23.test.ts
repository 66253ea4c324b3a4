/**
 * Issue 23's hostile review of main (f304a32), reproduced as it was found: local mode, API keys
 * `ci-acme` and `ci-acme2` (tenant acme) and `ci-globex` (tenant globex), jobs whose env.tenantKey is
 * TENANT_ID, the embedded emulator as Cloud Run. Each test failed on that main. Findings 1 (catalog
 * aliases), 4c (catalog ids), 5b-5e (HOST, console, /docs, protected names) and 6 (audit tenant) are
 * tested where their code is: see docs/security.md.
 */
import t, { type Test } from 'tap'
import { hashApiKey } from '../../api/auth/index.js'
import type { Clock } from '../../api/live/read-budget.js'
import { build, type Built } from '../helper.js'
import { until } from '../events/helpers.js'
import { startOutside } from '../helpers/outside-run.js'

const KEYS = { acme: 'jg_review23_acme_key_000000000000', acme2: 'jg_review23_acme2_key_00000000000', globex: 'jg_review23_globex_key_0000000000' }
const PRINCIPALS = ['ci-acme', 'ci-acme2', 'ci-globex']
const tenantJob = (extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ env: { tenantKey: 'TENANT_ID', allow: ['ECHO_*', 'REPORT_*'] }, principals: PRINCIPALS, ...extra })
const CATALOG = {
  jobs: {
    echo: tenantJob(),
    forbid: tenantJob({ concurrency: { policy: 'Forbid' } }),
    replace: tenantJob({ concurrency: { policy: 'Replace' } })
  }
}
const SLEEP = { ECHO_SLEEP_MS: '600000' }

/** A clock the test moves: the read budgets and caches run on it. */
function manualClock (): Clock & { advance: (ms: number) => void } {
  let now = Date.now()
  return { now: () => now, advance: ms => { now += ms } }
}

async function stack (t: Test, env: Record<string, string> = {}, clock?: Clock): Promise<Built & { as: (key: string) => Caller }> {
  const built = await build(t, {
    env: {
      JOBGATE_MODE: 'local',
      JOBGATE_AUTH: 'apikey',
      JOBGATE_API_KEYS: JSON.stringify({
        keys: [
          { sha256: hashApiKey(KEYS.acme), principal: 'ci-acme', tenant: 'acme' },
          { sha256: hashApiKey(KEYS.acme2), principal: 'ci-acme2', tenant: 'acme' },
          { sha256: hashApiKey(KEYS.globex), principal: 'ci-globex', tenant: 'globex' }
        ]
      }),
      JOBGATE_JOBS: JSON.stringify(CATALOG),
      // The per-caller request limit is another guard: out of the way of the upstream budgets under test.
      JOBGATE_READ_RATE_LIMIT: '1000000',
      JOBGATE_RATE_LIMIT: '1000000',
      ...env
    },
    ...(clock !== undefined && { services: { clock } })
  })
  const as = (key: string): Caller => ({
    get: async url => await built.app.inject({ method: 'GET', url, headers: { 'x-api-key': key } }),
    post: async (url, body) => await built.app.inject({
      method: 'POST',
      url,
      headers: { 'x-api-key': key, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { payload: JSON.stringify(body) })
    })
  })
  return Object.assign(built, { as })
}

interface Caller {
  get: (url: string) => Promise<{ statusCode: number, body: string, json: () => any }>
  post: (url: string, body?: unknown) => Promise<{ statusCode: number, body: string, json: () => any }>
}

const executionGets = (built: Built): number => built.emulator.requests.filter(r => r.method === 'GET' && /\/executions\/[^/?]+$/.test(r.path)).length
const executionLists = (built: Built): number => built.emulator.requests.filter(r => r.method === 'GET' && /\/executions$/.test(r.path)).length
const cancels = (built: Built): number => built.emulator.requests.filter(r => r.method === 'POST' && r.path.endsWith(':cancel')).length
const entriesLists = (built: Built): number => built.emulator.requests.filter(r => r.path.endsWith('/v2/entries:list')).length
const randomName = (job: string): string => `${job}-${Math.random().toString(36).slice(2, 7).padEnd(5, 'x')}`

async function started (caller: Caller, job: string, env: Record<string, string> = {}): Promise<string> {
  const response = await caller.post(`/v1/jobs/${job}/runs`, { env })
  if (response.statusCode !== 202) throw new Error(`start of ${job}: ${response.statusCode} ${response.body}`)
  return response.json().name as string
}

t.test('finding 2: a tenant-scoped job\'s concurrency policy is per tenant: no 409 naming, no cancel of, another tenant\'s run', async t => {
  const s = await stack(t)
  const acme = s.as(KEYS.acme)
  const globex = s.as(KEYS.globex)
  for (const job of ['forbid', 'replace']) {
    const theirs = await started(globex, job, SLEEP)
    const mine = await acme.post(`/v1/jobs/${job}/runs`, { env: SLEEP })
    t.equal(mine.statusCode, 202, `${job}: acme's start is not refused by globex's run: ${mine.body.slice(0, 200)}`)
    t.notMatch(mine.body, theirs, `${job}: globex's run is not named`)
    const still = (await globex.get(`/v1/jobs/${job}/runs/${theirs}`)).json()
    t.match(still.state, /^(PENDING|RUNNING)$/, `${job}: globex's run was not cancelled by acme's start`)
    const again = await acme.post(`/v1/jobs/${job}/runs`, { env: SLEEP })
    if (job === 'forbid') {
      t.equal(again.statusCode, 409, 'acme\'s own second run is refused')
      t.same(again.json().error.runningRuns, [mine.json().name], 'naming acme\'s run only')
    } else t.equal(again.statusCode, 202, 'Replace: acme\'s second start replaces acme\'s first')
    for (const run of [theirs]) await globex.post(`/v1/jobs/${job}/runs/${run}/cancel`)
    for (const run of [mine.json().name, again.json().name ?? '']) if (run !== '') await acme.post(`/v1/jobs/${job}/runs/${run}/cancel`)
  }
})

t.test('finding 3: one caller hammering random names leaves another its share: the fair-share test', async t => {
  const clock = manualClock()
  const s = await stack(t, { JOBGATE_RUN_READS_PER_MINUTE: '300' }, clock)
  const [acme, acme2, globex] = [s.as(KEYS.acme), s.as(KEYS.acme2), s.as(KEYS.globex)]
  const own = await started(globex, 'echo', SLEEP)
  const answers = { acme: new Map<number, number>(), globex: new Map<number, number>() }
  const count = (map: Map<number, number>, status: number): void => { map.set(status, (map.get(status) ?? 0) + 1) }
  const getsBefore = executionGets(s)
  // Two simulated minutes: both acme keys send 5 GETs of random names a second; globex reads its running run every 2 s
  // (30 a minute, within its third of the 225 a minute the budget refills).
  for (let second = 0; second < 120; second++) {
    const hammering = Array.from({ length: 5 }, async () => await Promise.all([acme, acme2].map(async caller => await caller.get(`/v1/jobs/echo/runs/${randomName('echo')}`))))
    for (const responses of await Promise.all(hammering)) for (const response of responses) count(answers.acme, response.statusCode)
    if (second % 2 === 0) count(answers.globex, (await globex.get(`/v1/jobs/echo/runs/${own}`)).statusCode)
    clock.advance(1_000)
  }
  t.same([...answers.globex], [[200, 60]], 'globex read its own run 60 times: never a 429')
  t.ok((answers.acme.get(429) ?? 0) > 0, `acme was held to its share: ${JSON.stringify([...answers.acme])}`)
  const upstream = executionGets(s) - getsBefore
  t.ok(upstream <= 75 + 2 * 225, `${upstream} executions.get in two minutes: within the budget (a burst of 75, then 225 a minute)`)
  await globex.post(`/v1/jobs/echo/runs/${own}/cancel`)
})

t.test('finding 3: not-found answers are cached briefly; lists and cancels spend the caller\'s share', async t => {
  const clock = manualClock()
  const s = await stack(t, { JOBGATE_RUN_READS_PER_MINUTE: '4' }, clock)
  const acme = s.as(KEYS.acme)
  const name = randomName('echo')
  const before = executionGets(s)
  for (let i = 0; i < 20; i++) t.equal((await acme.get(`/v1/jobs/echo/runs/${name}`)).statusCode, 404)
  t.equal(executionGets(s) - before, 1, 'the same missing name read 20 times: one upstream read')
  clock.advance(60_000)
  const lists = await Promise.all(Array.from({ length: 50 }, async () => (await acme.get('/v1/jobs/echo/runs')).statusCode))
  t.ok(executionLists(s) <= 2, `50 lists: ${executionLists(s)} reached Cloud Run (the budget allows 4 a minute)`)
  t.ok(lists.filter(status => status === 429).length >= 48, 'the rest were told to come back')
  clock.advance(60_000)
  const readsBefore = executionGets(s)
  const cancelled = await Promise.all(Array.from({ length: 20 }, async () => (await acme.post(`/v1/jobs/echo/runs/${randomName('echo')}/cancel`)).statusCode))
  t.ok(executionGets(s) - readsBefore + cancels(s) <= 2, `20 cancels of missing runs: ${executionGets(s) - readsBefore} reads and ${cancels(s)} cancels upstream`)
  t.ok(cancelled.every(status => status === 404 || status === 429), 'each a 404 or a 429')
})

t.test('finding 3: one caller reading many logs leaves another its share of Cloud Logging', async t => {
  const s = await stack(t, { JOBGATE_LOGGING_READS_PER_MINUTE: '30' })
  const acme = s.as(KEYS.acme)
  const globex = s.as(KEYS.globex)
  const acmeRuns = await Promise.all(Array.from({ length: 7 }, async () => await started(acme, 'echo')))
  const own = await started(globex, 'echo')
  await Promise.all([...acmeRuns, own].map(async run => await s.emulator.waitForExecution(run)))
  const acmeLogs = await Promise.all(acmeRuns.map(async run => (await acme.get(`/v1/jobs/echo/runs/${run}/logs`)).statusCode))
  t.ok(acmeLogs.includes(429), `acme's 7 log reads at once went beyond its share: ${acmeLogs.join(' ')}`)
  const mine = await globex.get(`/v1/jobs/echo/runs/${own}/logs`)
  t.equal(mine.statusCode, 200, `globex's log read is within its share: ${mine.body.slice(0, 200)}`)
  t.ok(entriesLists(s) <= 7, `${entriesLists(s)} entries:list calls: no more than the burst of 7`)
})

t.test('finding 4: pages leak nothing; a run\'s answer does not depend on another tenant\'s runs', async t => {
  const clock = manualClock()
  const s = await stack(t, { JOBGATE_RUN_READS_PER_MINUTE: '40' }, clock)
  const acme = s.as(KEYS.acme)
  const globex = s.as(KEYS.globex)
  const mine = await started(globex, 'echo')
  const theirs = []
  for (let i = 0; i < 3; i++) theirs.push(await started(acme, 'echo'))
  await Promise.all([mine, ...theirs].map(async run => await s.emulator.waitForExecution(run)))
  // The job's reconciler lists on real time while the budgets' clock stands still: time moves until it has let the job go
  // (its own share refills), then a fresh minute for what is under test.
  await until(() => { clock.advance(1_000); return s.services.lifecycle.runs.reconcilers.length === 0 }, 60_000, 'the reconciler to let the job go')
  clock.advance(60_000)

  const first = (await globex.get('/v1/jobs/echo/runs?pageSize=1')).json()
  t.same(first.runs.map((run: { name: string }) => run.name), [mine], 'globex\'s page of one is its own run, read on past acme\'s three')
  t.equal(first.nextPageToken, undefined, 'and the list ends there: no token, no empty page')
  const acmeFirst = (await acme.get('/v1/jobs/echo/runs?pageSize=1')).json()
  const token = acmeFirst.nextPageToken as string
  t.match(token, /^[A-Za-z0-9_-]+$/)
  const decoded = Buffer.from(token, 'base64url').toString('latin1')
  for (const run of [mine, ...theirs]) t.notOk(decoded.includes(run), `the token does not decode to ${run}`)
  t.equal((await globex.get(`/v1/jobs/echo/runs?pageSize=1&pageToken=${token}`)).statusCode, 400, 'acme\'s token is refused to globex')
  const second = (await acme.get(`/v1/jobs/echo/runs?pageSize=1&pageToken=${token}`)).json()
  t.same(second.runs.map((run: { name: string }) => run.name), [theirs[1]], 'and goes on for acme')

  // acme reads its finished run (cached from now on); globex spends its share; both names must then answer alike.
  t.equal((await acme.get(`/v1/jobs/echo/runs/${theirs[0] ?? ''}`)).statusCode, 200)
  clock.advance(60_000)
  for (let i = 0; i < 40; i++) await globex.get(`/v1/jobs/echo/runs/${randomName('echo')}`)
  const hidden = await globex.get(`/v1/jobs/echo/runs/${theirs[0] ?? ''}`)
  const missing = await globex.get(`/v1/jobs/echo/runs/${'echo-zzzzz'}`)
  t.equal(hidden.statusCode, 429, 'another tenant\'s cached run, share spent: 429, as for')
  t.equal(missing.statusCode, 429, 'a run that does not exist')
  clock.advance(60_000)
  const [hiddenAfter, missingAfter] = [await globex.get(`/v1/jobs/echo/runs/${theirs[0] ?? ''}`), await globex.get('/v1/jobs/echo/runs/echo-zzzzz')]
  t.same([hiddenAfter.statusCode, missingAfter.statusCode], [404, 404])
  t.equal(hiddenAfter.body.replace(theirs[0] ?? '', 'NAME'), missingAfter.body.replace('echo-zzzzz', 'NAME'), 'worded alike')

  // ?wait on its own run with its share spent: waits for the share (as a wait for the watcher always did), then answers.
  // A run started outside jobgate: no reconciler has it, so reading it needs a read of globex's share.
  const outside = await startOutside(s.emulator, 'echo', { TENANT_ID: 'globex' })
  await s.emulator.waitForExecution(outside)
  for (let i = 0; i < 40; i++) await globex.get(`/v1/jobs/echo/runs/${randomName('echo')}`)
  const refused = s.services.live.runBudget.refused
  const waiting = globex.get(`/v1/jobs/echo/runs/${outside}?wait=20`)
  while (s.services.live.runBudget.refused === refused) await new Promise(resolve => setImmediate(resolve))
  clock.advance(60_000)
  const waited = await waiting
  t.equal(waited.statusCode, 200, waited.body.slice(0, 200))
  t.equal(waited.json().state, 'SUCCEEDED')
})

t.test('finding 5: a page on any site cannot start a run on a laptop\'s jobgate', async t => {
  const s = await build(t, { env: { JOBGATE_MODE: 'local' }, listen: true })
  const runsBefore = s.emulator.requests.filter(r => r.path.endsWith(':run')).length
  // What fetch(…, {method: 'POST', mode: 'no-cors'}) sends: no body (or a form, or text/plain), no JSON content type.
  const noCors = await fetch(`${s.url}/v1/jobs/echo/runs`, { method: 'POST' })
  t.equal(noCors.status, 415)
  const form = await fetch(`${s.url}/v1/jobs/echo/runs`, { method: 'POST', body: new URLSearchParams({ env: 'x' }) })
  t.equal(form.status, 415)
  const text = await fetch(`${s.url}/v1/jobs/echo/runs`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' })
  t.equal(text.status, 415)
  // DNS rebinding: the page's own name, resolved to 127.0.0.1, comes as the Host header.
  for (const host of ['attacker.example', 'attacker.example:8080', '127.0.0.1.nip.io', 'cloudshell.dev.attacker.example']) {
    const rebound = await s.app.inject({ method: 'POST', url: '/v1/jobs/echo/runs', headers: { host, 'content-type': 'application/json' }, payload: '{}' })
    t.equal(rebound.statusCode, 403, `Host ${host}`)
    t.match(rebound.json(), { error: { status: 'PERMISSION_DENIED', message: /DNS rebinding/ } })
    t.equal((await s.app.inject({ url: '/v1/jobs', headers: { host } })).statusCode, 403, `Host ${host}: reads too`)
  }
  t.equal(s.emulator.requests.filter(r => r.path.endsWith(':run')).length, runsBefore, 'nothing was started')
  for (const host of ['localhost:8080', '127.0.0.1:8080', '[::1]:8080', 'jobgate.localhost', '192.168.1.20:8080', '8080-cs-123-default.cs-europe-west1-iuzs.cloudshell.dev']) {
    t.equal((await s.app.inject({ url: '/v1/jobs', headers: { host } })).statusCode, 200, `Host ${host}`)
  }
  t.equal((await fetch(`${s.url}/v1/jobs/echo/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status, 202, 'a JSON request to 127.0.0.1 starts')
})
