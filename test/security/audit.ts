import type { Test } from 'tap'
import { KEYS, PROJECT, apiKey, json, type Stack } from './stack.js'

const LABELS = 'logging.googleapis.com/labels'
/** The longest project id Google allows: the trace field names the project. */
const LONGEST_PROJECT_ID = 30

/** The audit line of every run attempt, counted from wherever the stack is now. */
export function auditTests (t: Test, stack: Stack): void {
  const SECRET_VALUE = `audit-secret-${Math.random().toString(36).slice(2)}`
  const start = async (key: string, job: string, body: unknown) =>
    await stack.app.inject({ method: 'POST', url: `/v1/jobs/${job}/runs`, headers: { ...json, ...apiKey(key) }, payload: JSON.stringify(body) })
  const auditLines = () => stack.logLines().filter(line => (line[LABELS] as Record<string, string> | undefined)?.jobgate_audit === 'run')

  t.test('one audit line per run attempt: who, what, env names only, outcome, execution, as Cloud Logging labels', async t => {
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
    t.equal((await start(KEYS.acme, 'echo', {})).statusCode, 404)

    const lines = auditLines().slice(linesBefore)
    t.equal(lines.length, 7, 'seven attempts, seven lines')
    const [ok, invalid, denied, upstream, unauthenticated, malformed, notOnJob] = lines
    const refusal = (principal: string, outcome: string) => ({ severity: 'WARNING', trigger: 'api', [LABELS]: { jobgate_audit: 'run', jobgate_job: 'echo', jobgate_principal: principal, jobgate_outcome: outcome } })
    t.match(unauthenticated, refusal('unauthenticated', 'UNAUTHENTICATED'))
    t.match(malformed, refusal('ci', 'INVALID_ARGUMENT'))
    t.match(notOnJob, refusal('acme-ci', 'NOT_FOUND'))
    t.notOk(JSON.stringify(lines).includes('jg_wrong-key'), 'a refused key is not logged')
    t.match(ok, {
      severity: 'INFO',
      trigger: 'api',
      envNames: ['REPORT_DATE', 'API_TOKEN'],
      argsCount: 2,
      taskCount: 2,
      execution,
      [LABELS]: { jobgate_audit: 'run', jobgate_job: 'echo', jobgate_principal: 'ci', jobgate_outcome: 'started' }
    })
    for (const line of lines) {
      t.strictSame(['audit', 'principal', 'job', 'outcome', 'clearArgs', 'cloudRunJob'].filter(field => field in line!), [], 'labels are not repeated as fields; clearArgs only when true; the Cloud Run job is the catalog\'s (and the execution name\'s)')
    }
    t.match(ok?.message, new RegExp(`^run ${execution} of echo by ci started$`))
    t.match(invalid, { severity: 'WARNING', envNames: ['LD_PRELOAD'], argsCount: 0, [LABELS]: { jobgate_job: 'echo', jobgate_principal: 'ci', jobgate_outcome: 'INVALID_ARGUMENT' } })
    t.match(denied, { envNames: ['TENANT_ID', 'REPORT_X'], [LABELS]: { jobgate_job: 'tenant-echo', jobgate_principal: 'acme-ci', jobgate_tenant: 'acme', jobgate_outcome: 'PERMISSION_DENIED' } })
    t.match(upstream, { envNames: [], argsCount: 1, timeoutSeconds: 60, [LABELS]: { jobgate_job: 'tenant-echo', jobgate_principal: 'acme-ci', jobgate_tenant: 'acme', jobgate_outcome: 'UNAVAILABLE' } })
    t.match(notOnJob, { [LABELS]: { jobgate_tenant: 'acme' } }, 'a refusal before the run path names the tenant too')
    t.notOk(JSON.stringify(ok).includes('jobgate_tenant'), 'a caller bound to no tenant on a job without one: no tenant label')
    for (const line of [invalid, denied, upstream]) t.equal(line?.execution, undefined, 'a run not started: no execution')
    t.notOk(stack.logText().includes(SECRET_VALUE), 'no env value in any log line')
    t.equal(stack.runCalls().length - callsBefore, 2, 'the started run and the failed one reached Cloud Run, no other')
  })

  t.test('a typical run request\'s audit line is at most 600 bytes, trace included', async t => {
    const trace = '105445aa7843bc8bf206b12000100000'
    const started = await stack.app.inject({
      method: 'POST',
      url: '/v1/jobs/tenant-echo/runs',
      headers: { ...json, ...apiKey(KEYS.acme), 'x-cloud-trace-context': `${trace}/1;o=1`, 'idempotency-key': '3f0c5c0e-8d0a-4d56-9c5e-2b7f4c1f9a11' },
      payload: JSON.stringify({ args: ['--date', '2026-11-29'], env: { REPORT_DATE: '2026-11-29', REPORT_REGION: 'europe-west1' }, taskCount: 4, timeoutSeconds: 900 })
    })
    t.equal(started.statusCode, 202, started.body.slice(0, 200))
    const execution = JSON.parse(started.body).name as string
    const line = stack.logText().split('\n').find(text => text.includes(`"execution":"${execution}"`)) ?? ''
    const parsed = JSON.parse(line) as Record<string, unknown>
    // Issue 23 finding 6: two keys may share a principal name (docs/security.md); the tenant tells them apart.
    t.match(parsed, { envNames: ['REPORT_DATE', 'REPORT_REGION'], [LABELS]: { jobgate_principal: 'acme-ci', jobgate_tenant: 'acme', jobgate_outcome: 'started' } }, 'tenant, principal and overrides in it')
    t.equal(parsed['logging.googleapis.com/trace'], `projects/${PROJECT}/traces/${trace}`, 'the trace that groups it under its request')
    t.equal(started.headers['x-request-id'], trace, 'the request id is the trace id, so the line carries it once')
    t.notOk('requestId' in parsed)
    const bytes = Buffer.byteLength(line) + LONGEST_PROJECT_ID - PROJECT.length
    t.ok(bytes <= 600, `${bytes} bytes with a ${LONGEST_PROJECT_ID}-character project id (issue 12: at most 600)`)
  })
}
