import type { Test } from 'tap'
import type { RecordedRequest } from '../../emulator/index.js'
import { KEYS, apiKey, assertClientError, json, type Stack } from './stack.js'

/** Tenant scope through the routes, down to what the echo job printed. */
export function tenantTests (t: Test, stack: Stack): void {
  const { app } = stack

  const start = async (key: string, body: unknown, job = 'tenant-echo') =>
    await app.inject({ method: 'POST', url: `/v1/jobs/${job}/runs`, headers: { ...json, ...apiKey(key) }, payload: JSON.stringify(body) })

  /** The env Cloud Run was asked to set, from the recorded jobs.run body. */
  function sentEnv (call: RecordedRequest | undefined): Record<string, string> {
    const body = call?.body as { overrides?: { containerOverrides?: Array<{ env?: Array<{ name: string, value: string }> }> } } | undefined
    return Object.fromEntries((body?.overrides?.containerOverrides?.[0]?.env ?? []).map(({ name, value }) => [name, value]))
  }

  /** Waits for the run to end, then reads what the echo job printed as its env, through jobgate's logs route. */
  async function printedEnv (t: Test, key: string, run: string): Promise<Record<string, string> | undefined> {
    const done = await app.inject({ method: 'GET', url: `/v1/jobs/tenant-echo/runs/${run}?wait=30`, headers: apiKey(key) })
    t.equal(JSON.parse(done.body).state, 'SUCCEEDED', `run ${run} finished`)
    const logs = await app.inject({ method: 'GET', url: `/v1/jobs/tenant-echo/runs/${run}/logs`, headers: apiKey(key) })
    t.equal(logs.statusCode, 200, `logs of ${run}`)
    const entries = (JSON.parse(logs.body) as { entries: Array<{ message: string, payload?: { env?: Record<string, string> } }> }).entries
    return entries.find(entry => entry.message === 'env')?.payload?.env
  }

  t.test('a tenant-bound caller always runs as its own tenant', async t => {
    const runs: string[] = []
    for (const body of [{}, { env: { REPORT_DATE: '2026-11-23' } }, { env: { TENANT_ID: 'acme', REPORT_DATE: '2026-11-23' } }]) {
      const before = stack.runCalls().length
      const response = await start(KEYS.acme, body)
      t.equal(response.statusCode, 202, response.body.slice(0, 200))
      const call = stack.runCalls()[before]
      t.equal(stack.runCalls().length, before + 1)
      t.equal(sentEnv(call).TENANT_ID, 'acme', `${JSON.stringify(body)}: Cloud Run was told TENANT_ID=acme`)
      t.equal(sentEnv(call).REPORT_DATE, body.env?.REPORT_DATE, 'the other overrides pass through')
      runs.push(JSON.parse(response.body).name as string)
    }
    for (const env of await Promise.all(runs.map(run => printedEnv(t, KEYS.acme, run)))) {
      t.equal(env?.TENANT_ID, 'acme', 'and the job itself saw TENANT_ID=acme')
    }
  })

  t.test('another tenant, in any spelling jobgate accepts, is 403 and nothing is started', async t => {
    // The earlier runs' reconciler may still list the job's executions: what counts is any other call.
    const calls = (): number =>
      stack.emulator.requests.filter(request => !(request.method === 'GET' && request.path.endsWith('/executions'))).length
    const before = calls()
    for (const value of ['globex', 'ACME', 'acme ', ' acme', '', 'acme\u200b', 'аcme']) {
      const response = await start(KEYS.acme, { env: { TENANT_ID: value } })
      assertClientError(t, response, `acme-ci asking for TENANT_ID=${JSON.stringify(value)}`, 403)
      t.match(JSON.parse(response.body).error.message, /own tenant/)
    }
    assertClientError(t, await start(KEYS.globex, { env: { TENANT_ID: 'acme' } }), 'globex-ci asking for acme', 403)
    assertClientError(t, await start(KEYS.ci, { env: { TENANT_ID: 'acme' } }), 'a caller bound to no tenant', 403)
    assertClientError(t, await start(KEYS.ci, {}), 'a caller bound to no tenant, without a tenant', 403)
    assertClientError(t, await start(KEYS.ops, {}), 'a tenant-free caller that names no tenant', 400)
    assertClientError(t, await start(KEYS.acme, { env: { tenant_id: 'globex' } }, 'restricted'), 'another letter case of the tenant key', 403)
    for (const env of [{ TENANT_ID: 'acme', tenant_id: 'globex' }, { Tenant_Id: 'globex' }, { tenant_ID: 'acme' }]) {
      const response = await start(KEYS.acme, { env })
      assertClientError(t, response, `a letter-case variant of the tenant key: ${JSON.stringify(env)}`, 403)
      t.match(JSON.parse(response.body).error.message, /letter-case variant of job "tenant-echo"'s tenant key TENANT_ID/)
    }
    assertClientError(t, await start(KEYS.ops, { env: { TENANT_ID: 'acme', tenant_id: 'globex' } }), 'a tenant-free caller cannot send a variant either', 403)
    t.equal(calls(), before, 'no upstream call in any denied case')
  })

  t.test('a tenant-free caller chooses the tenant; a bound caller of another tenant gets its own', async t => {
    const free = await start(KEYS.ops, { env: { TENANT_ID: 'initech' } })
    t.equal(free.statusCode, 202, free.body.slice(0, 200))
    t.equal(sentEnv(stack.runCalls().at(-1)).TENANT_ID, 'initech')
    const globex = await start(KEYS.globex, { env: { TENANT_ID: 'globex' } })
    t.equal(globex.statusCode, 202, globex.body.slice(0, 200))
    t.equal(sentEnv(stack.runCalls().at(-1)).TENANT_ID, 'globex')
    const [globexEnv, freeEnv] = await Promise.all([
      printedEnv(t, KEYS.globex, JSON.parse(globex.body).name),
      printedEnv(t, KEYS.ops, JSON.parse(free.body).name)
    ])
    t.equal(globexEnv?.TENANT_ID, 'globex')
    t.equal(freeEnv?.TENANT_ID, 'initech')
  })

  t.test('a run stays its tenant\'s: another tenant gets 404 on get, ?wait, logs and cancel, and never sees it listed', async t => {
    const started = await start(KEYS.acme, { env: { ECHO_SLEEP_MS: '60000' } })
    t.equal(started.statusCode, 202, started.body.slice(0, 200))
    const run = JSON.parse(started.body).name as string
    const path = `/v1/jobs/tenant-echo/runs/${run}`
    const as = async (key: string, method: 'GET' | 'POST', url: string) => await app.inject({ method, url, headers: apiKey(key) })
    const missing = await as(KEYS.globex, 'GET', '/v1/jobs/tenant-echo/runs/tenant-echo-zzzzz')
    const cancelsBefore = stack.logLines().filter(line => (line['logging.googleapis.com/labels'] as Record<string, string> | undefined)?.jobgate_audit === 'cancel').length
    t.equal((await as(KEYS.acme, 'GET', path)).statusCode, 200, 'acme read it first: what globex gets next is served from jobgate\'s watchers and caches')

    for (const [method, url] of [['GET', path], ['GET', `${path}?wait=1`], ['GET', `${path}/logs`], ['GET', `${path}/events`], ['POST', `${path}/cancel`]] as const) {
      const response = await as(KEYS.globex, method, url)
      assertClientError(t, response, `globex-ci: ${method} ${url}`, 404)
      t.equal(JSON.parse(response.body).error.message, JSON.parse(missing.body).error.message.replace('tenant-echo-zzzzz', run), 'worded as for a run that does not exist')
      t.notMatch(response.body, /acme/, 'nothing of acme\'s in the answer')
    }
    assertClientError(t, await as(KEYS.ci, 'GET', path), 'a caller bound to no tenant', 404)
    const globexList = JSON.parse((await as(KEYS.globex, 'GET', '/v1/jobs/tenant-echo/runs?pageSize=100')).body) as { runs: Array<{ name: string }> }
    t.notOk(globexList.runs.some(listed => listed.name === run), 'not in globex\'s list')
    t.ok(globexList.runs.length > 0, 'globex still sees its own runs')
    const acmeList = JSON.parse((await as(KEYS.acme, 'GET', '/v1/jobs/tenant-echo/runs?pageSize=100')).body) as { runs: Array<{ name: string }> }
    t.ok(acmeList.runs.some(listed => listed.name === run), 'in acme\'s list')
    const opsList = JSON.parse((await as(KEYS.ops, 'GET', '/v1/jobs/tenant-echo/runs?pageSize=100')).body) as { runs: Array<{ name: string }> }
    t.ok(opsList.runs.length > acmeList.runs.length && opsList.runs.length > globexList.runs.length, 'a tenant-free caller sees every tenant\'s runs')

    const afterRefusal = JSON.parse((await as(KEYS.acme, 'GET', path)).body) as { state: string }
    t.not(afterRefusal.state, 'CANCELLED', 'globex\'s cancel did nothing')
    t.equal((await as(KEYS.ops, 'GET', path)).statusCode, 200, 'a tenant-free caller reads it')
    const cancelled = await as(KEYS.acme, 'POST', `${path}/cancel`)
    t.equal(cancelled.statusCode, 200, cancelled.body.slice(0, 200))

    const cancels = stack.logLines().filter(line => (line['logging.googleapis.com/labels'] as Record<string, string> | undefined)?.jobgate_audit === 'cancel').slice(cancelsBefore)
    t.equal(cancels.length, 2, 'both cancel attempts audited, once each')
    const labels = (principal: string, outcome: string) => ({ jobgate_audit: 'cancel', jobgate_job: 'tenant-echo', jobgate_principal: principal, jobgate_outcome: outcome })
    t.match(cancels[0], { severity: 'WARNING', execution: run, 'logging.googleapis.com/labels': labels('globex-ci', 'NOT_FOUND') })
    t.match(cancels[1], { severity: 'INFO', execution: run, 'logging.googleapis.com/labels': labels('acme-ci', 'cancelled') })
    for (const line of cancels) t.notOk('principal' in line || 'outcome' in line || 'job' in line, 'labels are not repeated as fields')
  })
}
