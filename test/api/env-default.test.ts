import t from 'tap'
import { JobAccess } from '../../api/policy/job-access.js'
import { applyRunPolicy } from '../../api/policy/run-policy.js'
import { testCatalog } from '../helpers/catalog-entry.js'

const catalog = testCatalog({
  open: { principals: ['ci'] },
  scoped: { env: { tenantKey: 'TENANT_ID' }, principals: ['ci'] },
  listed: { env: { allow: ['REPORT_*'] }, principals: ['ci'] },
  any: { env: { allow: ['*'] }, principals: ['ci'] }
})
const ci = { name: 'ci', tenantFree: true }
const acme = { name: 'ci', tenant: 'acme' }

t.test('authentication on: a job without env.allow takes no env override but its tenant key, and the start-up log can name it', async t => {
  const access = new JobAccess(catalog, true)
  t.same(access.envLocked(), ['open', 'scoped'])
  const open = access.entryFor('open', ci)
  t.same(open.env.allow, [], 'the effective policy says so (GET /v1/jobs shows it)')
  t.throws(() => applyRunPolicy(open, { env: { BASH_ENV: '$(id)' } }, ci), { status: 'INVALID_ARGUMENT', message: /protected/ })
  t.throws(() => applyRunPolicy(open, { env: { GREETING: 'hi' } }, ci), { status: 'INVALID_ARGUMENT', message: 'env.GREETING: not allowed for job "open" (allowed: none)' })
  t.strictSame(applyRunPolicy(open, { args: ['a'] }, ci), { args: ['a'] }, 'args and the rest are untouched')
  const scoped = access.entryFor('scoped', acme)
  t.strictSame(applyRunPolicy(scoped, { env: { TENANT_ID: 'acme' } }, acme).env, { TENANT_ID: 'acme' }, 'the tenant key still passes')
  t.strictSame(applyRunPolicy(scoped, {}, acme).env, { TENANT_ID: 'acme' }, 'and is set by jobgate')
  t.throws(() => applyRunPolicy(scoped, { env: { TENANT_ID: 'acme', REPORT_DATE: 'x' } }, acme), { status: 'INVALID_ARGUMENT', message: /not allowed/ })
  t.ok(applyRunPolicy(access.entryFor('listed', ci), { env: { REPORT_DATE: 'x' } }, ci), 'an allow-list is kept as written')
  t.ok(applyRunPolicy(access.entryFor('any', ci), { env: { GREETING: 'x' } }, ci), '"*" opts into any unprotected name')
  t.throws(() => applyRunPolicy(access.entryFor('any', ci), { env: { HTTPS_PROXY: 'http://evil' } }, ci), { status: 'INVALID_ARGUMENT', message: /protected/ }, 'the denylist still applies under "*"')
})

t.test('authentication off (local mode): the open default stays, so TENANT_ID=acme overrides on the echo job keep working', async t => {
  const access = new JobAccess(catalog, false)
  t.same(access.envLocked(), [])
  t.equal(access.entryFor('open', ci).env.allow, undefined)
  t.ok(applyRunPolicy(access.entryFor('open', ci), { env: { TENANT_ID: 'acme', REPORT_DATE: '2026-11-23' } }, ci))
})
