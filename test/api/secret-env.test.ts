// env.refuseSecretNames: a job that takes no secret-looking override (its value would be stored in the execution).
import t from 'tap'
import { applyRunPolicy, type Caller } from '../../api/policy/run-policy.js'
import { redactEnv } from '../../job/redact.js'
import { build } from '../helper.js'
import { testCatalog, testEntry } from '../helpers/catalog-entry.js'

const free: Caller = { name: 'anonymous', tenantFree: true }
const guarded = testEntry({ env: { allow: ['*'], refuseSecretNames: true } })
const secretLike = ['API_TOKEN', 'db_password', 'CLIENT_SECRET', 'SERVICE_KEY', 'APP_CREDENTIALS_JSON', 'Access_Token']

t.test('a guarded job refuses every name the companion job would redact, and nothing else', async t => {
  for (const name of secretLike) {
    t.throws(() => applyRunPolicy(guarded, { env: { [name]: 'x' } }, free), {
      name: 'ApiError',
      status: 'INVALID_ARGUMENT',
      message: `env.${name}: looks like a secret, and job "echo" takes none as an override (the value would be stored in the execution, ` +
        'readable by anyone who may read its executions); give the job a Secret Manager reference instead'
    }, name)
    t.equal(redactEnv({ [name]: 'x' })[name], '[REDACTED]', `${name}: the job would redact it too`)
  }
  const plain = { env: { REPORT_DATE: '2026-11-23', TENANT_ID: 'acme' } }
  t.strictSame(applyRunPolicy(guarded, plain, free), plain)
})

t.test('without the option an override of such a name is still taken, as documented', async t => {
  const request = { env: { API_TOKEN: 's3cr3t' } }
  t.strictSame(applyRunPolicy(testEntry({ env: { allow: ['*'] } }), request, free), request)
})

t.test('the catalog takes the option as a boolean; the API refuses before Cloud Run and GET /v1/jobs shows it', async t => {
  t.throws(() => testCatalog({ echo: { env: { refuseSecretNames: 'yes' as unknown as boolean } } }), { name: 'ConfigError' })
  const { app, fake } = await build(t, { jobs: { echo: { job: 'echo-job', env: { allow: ['*'], refuseSecretNames: true } } } })
  const refused = await app.inject({ method: 'POST', url: '/v1/jobs/echo/runs', payload: { env: { API_TOKEN: 's3cr3t' } } })
  t.equal(refused.statusCode, 400)
  t.match(refused.json(), { error: { code: 400, status: 'INVALID_ARGUMENT', message: /^env\.API_TOKEN: looks like a secret/ } })
  t.notMatch(refused.body, 's3cr3t', 'the value is not echoed')
  t.same(fake.calls, [], 'nothing reached Cloud Run')
  const jobs = (await app.inject('/v1/jobs')).json<{ jobs: Array<{ limits: { env: unknown } }> }>()
  t.same(jobs.jobs[0]?.limits.env, { allow: ['*'], refuseSecretNames: true })
})
