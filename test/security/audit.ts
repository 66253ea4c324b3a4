import type { Test } from 'tap'
import { KEYS, apiKey, json, type Stack } from './stack.js'

/** The audit line of every run attempt, counted from wherever the stack is now. */
export function auditTests (t: Test, stack: Stack): void {
  const SECRET_VALUE = `audit-secret-${Math.random().toString(36).slice(2)}`
  const start = async (key: string, job: string, body: unknown) =>
    await stack.app.inject({ method: 'POST', url: `/v1/jobs/${job}/runs`, headers: { ...json, ...apiKey(key) }, payload: JSON.stringify(body) })
  const auditLines = () => stack.logLines().filter(line => line.audit === 'run')

  t.test('one audit line per run attempt: who, what, env names only, outcome, execution, Cloud Logging labels', async t => {
    const linesBefore = auditLines().length
    const callsBefore = stack.runCalls().length
    const started = await start(KEYS.ci, 'echo', { args: ['a', 'b'], env: { REPORT_DATE: '2026-11-23', API_TOKEN: SECRET_VALUE }, taskCount: 2 })
    t.equal(started.statusCode, 202, started.body.slice(0, 200))
    const execution = JSON.parse(started.body).name as string
    t.equal((await start(KEYS.ci, 'echo', { env: { LD_PRELOAD: SECRET_VALUE } })).statusCode, 400)
    t.equal((await start(KEYS.acme, 'tenant-echo', { env: { TENANT_ID: 'globex', REPORT_X: SECRET_VALUE } })).statusCode, 403)
    stack.emulator.failNext({ method: 'POST', pathPattern: /:run$/ }, { status: 500 })
    const failed = await start(KEYS.acme, 'tenant-echo', { args: ['z'], timeoutSeconds: 60 })
    t.equal(failed.statusCode, 502, failed.body.slice(0, 200))
    // Refused before the run path (no caller, malformed body, not on the job): audited by the route, once.
    t.equal((await start('jg_wrong-key', 'echo', {})).statusCode, 401)
    t.equal((await start(KEYS.ci, 'echo', { unknown: 1 })).statusCode, 400)
    t.equal((await start(KEYS.acme, 'echo', {})).statusCode, 403)

    const lines = auditLines().slice(linesBefore)
    t.equal(lines.length, 7, 'seven attempts, seven lines')
    const [ok, invalid, denied, upstream, unauthenticated, malformed, notOnJob] = lines
    t.match(unauthenticated, { severity: 'WARNING', principal: 'unauthenticated', job: 'echo', trigger: 'api', outcome: 'UNAUTHENTICATED', 'logging.googleapis.com/labels': { jobgate_outcome: 'UNAUTHENTICATED' } })
    t.match(malformed, { principal: 'ci', job: 'echo', outcome: 'INVALID_ARGUMENT' })
    t.match(notOnJob, { principal: 'acme-ci', job: 'echo', outcome: 'PERMISSION_DENIED' })
    t.notOk(JSON.stringify(lines).includes('jg_wrong-key'), 'a refused key is not logged')
    t.match(ok, {
      severity: 'INFO',
      principal: 'ci',
      job: 'echo',
      cloudRunJob: 'echo-job',
      trigger: 'api',
      envNames: ['REPORT_DATE', 'API_TOKEN'],
      argsCount: 2,
      taskCount: 2,
      outcome: 'started',
      execution,
      'logging.googleapis.com/labels': { jobgate_audit: 'run', jobgate_job: 'echo', jobgate_principal: 'ci', jobgate_outcome: 'started' }
    })
    t.match(ok?.message, new RegExp(`run ${execution} of echo by ci \\(api\\) started`))
    t.match(invalid, { severity: 'WARNING', principal: 'ci', job: 'echo', envNames: ['LD_PRELOAD'], argsCount: 0, outcome: 'INVALID_ARGUMENT', 'logging.googleapis.com/labels': { jobgate_outcome: 'INVALID_ARGUMENT' } })
    t.match(denied, { principal: 'acme-ci', job: 'tenant-echo', envNames: ['TENANT_ID', 'REPORT_X'], outcome: 'PERMISSION_DENIED' })
    t.match(upstream, { principal: 'acme-ci', job: 'tenant-echo', envNames: ['TENANT_ID'], argsCount: 1, timeoutSeconds: 60, outcome: 'UNAVAILABLE' })
    for (const line of [invalid, denied, upstream]) t.equal(line?.execution, undefined, `${String(line?.outcome)}: no execution`)
    t.notOk(stack.logText().includes(SECRET_VALUE), 'no env value in any log line')
    t.equal(stack.runCalls().length - callsBefore, 2, 'the started run and the failed one reached Cloud Run, no other')
  })
}
