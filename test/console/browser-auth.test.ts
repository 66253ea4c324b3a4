import { mkdirSync } from 'node:fs'
import t from 'tap'
import { hashApiKey } from '../../api/auth/index.js'
import { AUDIENCE, EMAIL, claims, newSigningKey, signIdToken, startCertsServer } from '../auth/google-fixture.js'
import { accessibilityProblems } from '../helpers/a11y.js'
import { findChromium, launchChromium } from '../helpers/chromium.js'
import { build } from '../helper.js'

const executablePath = findChromium()
const ARTIFACTS = new URL('../../.artifacts/console/', import.meta.url).pathname
const WAIT = { timeout: 30_000 }
const KEY = 'jg_console-test-key'
const TYPED_SECRET = 'typed-secret-7f3a'

const ENV = {
  JOBGATE_AUTH: 'apikey,google',
  JOBGATE_AUDIENCE: AUDIENCE,
  JOBGATE_API_KEYS: JSON.stringify({ keys: [{ sha256: hashApiKey(KEY), principal: 'acme-ci', tenant: 'acme' }] }),
  JOBGATE_JOBS: JSON.stringify({ jobs: { echo: { env: { tenantKey: 'TENANT_ID', allow: ['ECHO_*'] }, principals: ['acme-ci'] }, payroll: { principals: ['finance'] } } }),
  JOBGATE_RATE_LIMIT: '2'
}

if (executablePath === undefined) {
  t.plan(0, 'SKIPPED: no Chromium found (install Debian\'s "chromium" package, as .ci/run does, or set CHROMIUM_PATH)')
} else {
  t.test('with API keys: sign-in, what the caller may see, and a clear screen for 401, 403, 404, 429 and a network down; sign-out forgets everything the tab kept', async t => {
    const googleKey = newSigningKey('console-test-key')
    const certs = await startCertsServer([googleKey])
    t.teardown(certs.close)
    const stack = await build(t, { env: { JOBGATE_MODE: 'local', ...ENV, JOBGATE_GOOGLE_CERTS_URL: certs.url }, listen: true })
    const context = await launchChromium(t, executablePath)
    const page = await context.newPage()
    const heading = page.getByRole('heading', { level: 1 })
    mkdirSync(ARTIFACTS, { recursive: true })

    await page.goto(`${stack.url}/console`)
    await heading.filter({ hasText: 'Sign in' }).waitFor(WAIT)
    t.equal(await page.getByRole('alert').textContent(), 'jobgate needs to know who you are.', '401 without a credential: the sign-in screen')

    // Keyboard only: type the wrong key, Enter.
    await page.getByLabel('Value').fill('jg_wrong')
    await page.keyboard.press('Enter')
    await page.getByRole('alert').filter({ hasText: 'refused' }).waitFor(WAIT)
    t.equal(await page.getByRole('alert').textContent(), 'Your credential was refused: API key is not valid', 'the API\'s own reason')
    t.same(await accessibilityProblems(page), [], 'sign-in: contrast and names')
    await page.screenshot({ path: `${ARTIFACTS}sign-in.png` })
    await page.getByLabel('Value').fill(KEY)
    await page.keyboard.press('Enter')
    await heading.filter({ hasText: 'Jobs' }).waitFor(WAIT)
    t.equal(await page.locator('#who').textContent(), 'Signed in as acme-ci, tenant acme')
    t.same(await page.locator('tbody th').allTextContents(), ['echo'], 'only the jobs this caller may use')
    t.equal(await page.locator('tbody td').last().textContent(), 'only ECHO_*; tenant in TENANT_ID', 'with its limits as the API applies them')
    t.same(JSON.parse(await page.evaluate<string>('sessionStorage.getItem("jobgate.credential") ?? "null"')), { kind: 'apikey', value: KEY }, 'kept in this tab\'s sessionStorage')
    t.equal(await page.evaluate('localStorage.length'), 0, 'nothing in localStorage')
    t.equal(await page.evaluate('document.cookie'), '', 'no cookie')

    await page.getByRole('link', { name: 'echo' }).click()
    await page.getByText('jobgate sets TENANT_ID=acme, your tenant.').waitFor(WAIT)
    // 403 on a field: the API's message goes next to it.
    await page.getByLabel('Environment').fill('TENANT_ID=globex')
    await page.getByRole('button', { name: 'Start run' }).click()
    await page.locator('#f-env-error', { hasText: 'TENANT_ID' }).waitFor(WAIT)
    t.equal(await page.locator('#f-env-error').textContent(), 'env.TENANT_ID: acme-ci may only run job "echo" for its own tenant')
    // A run started from this tab: what it sent (a typed secret too) is kept in the tab, to compare with what arrived.
    await page.getByLabel('Environment').fill(`ECHO_SECRET=${TYPED_SECRET}`)
    await page.getByRole('button', { name: 'Start run' }).click()
    await page.getByRole('table', { name: 'The env overrides you sent' }).waitFor(WAIT)
    t.ok(await page.evaluate<boolean>('Object.keys(sessionStorage).some(key => key.startsWith("jobgate.sent."))'), 'the tab keeps what it sent')
    await page.goto(`${stack.url}/console#/jobs/echo`)
    await page.getByLabel('Environment').waitFor(WAIT)
    // The rate limit (2 per minute here) is spent: 429 with its retry time.
    await page.getByLabel('Environment').fill('')
    await page.getByRole('button', { name: 'Start run' }).click()
    await heading.filter({ hasText: 'Too many requests' }).waitFor(WAIT)
    t.match(await page.getByRole('timer').textContent(), /^Retry in \d+ s\.$/, '429: when to retry')
    t.ok(await page.getByRole('button', { name: 'Try again' }).isDisabled(), 'no retry before that')
    t.same(await accessibilityProblems(page), [], 'error screen: contrast and names')
    await page.screenshot({ path: `${ARTIFACTS}rate-limited.png` })

    // A job this caller may not use reads as one that does not exist (issue 23: the catalog is not enumerable).
    await page.goto(`${stack.url}/console#/jobs/payroll`)
    await heading.filter({ hasText: 'Not found' }).waitFor(WAIT)
    t.equal(await page.getByRole('alert').textContent(), 'job "payroll" is not in jobgate\'s catalog, or not open to you')

    await page.goto(`${stack.url}/console#/jobs/echo/runs/echo-nope1`)
    await heading.filter({ hasText: 'Not found' }).waitFor(WAIT)

    await page.route('**/v1/**', route => route.abort('internetdisconnected'))
    await page.getByRole('link', { name: 'Jobs' }).first().click()
    await heading.filter({ hasText: 'Cannot reach jobgate' }).waitFor(WAIT)
    await page.unroute('**/v1/**')
    await page.getByRole('button', { name: 'Try again' }).click()
    await heading.filter({ hasText: 'Jobs' }).waitFor(WAIT)

    // Another tab does not share the credential; signing out forgets it.
    const other = await context.newPage()
    await other.goto(`${stack.url}/console`)
    await other.getByRole('heading', { name: 'Sign in' }).waitFor(WAIT)
    await page.getByRole('button', { name: 'Sign out' }).click()
    await heading.filter({ hasText: 'Sign in' }).waitFor(WAIT)
    t.equal(await page.evaluate('sessionStorage.length'), 0, 'signing out forgets the credential and what the tab sent')
    t.notOk((await page.content()).includes(TYPED_SECRET), 'and shows none of it')

    // A Google ID token goes as a Bearer token; that identity may use no job here.
    await page.getByLabel('Credential').selectOption('idtoken')
    await page.getByLabel('Value').fill(signIdToken(googleKey, claims()))
    await page.getByRole('button', { name: 'Sign in' }).click()
    await heading.filter({ hasText: 'Jobs' }).waitFor(WAIT)
    t.equal(await page.locator('#who').textContent(), `Signed in as ${EMAIL}, no tenant`)
    t.equal(await page.locator('main p').textContent(), `No job is open to ${EMAIL}.`)
  })
}
