import { mkdirSync } from 'node:fs'
import t from 'tap'
import type { Page } from 'playwright-core'
import { accessibilityProblems } from '../helpers/a11y.js'
import { findChromium, launchChromium } from '../helpers/chromium.js'
import { call } from '../helpers/call.js'
import { build } from '../helper.js'

const executablePath = findChromium()
const ARTIFACTS = new URL('../../.artifacts/console/', import.meta.url).pathname
const WAIT = { timeout: 30_000 }

/** Every request the page makes, and every error it logs (a CSP violation is one). */
function watchPage (
  page: Page,
  origin: string
): { foreign: string[], errors: string[], posts: Array<Record<string, string>>, paths: string[] } {
  const seen = { foreign: [] as string[], errors: [] as string[], posts: [] as Array<Record<string, string>>, paths: [] as string[] }
  page.on('request', request => {
    if (!request.url().startsWith(origin)) seen.foreign.push(request.url())
    else seen.paths.push(request.url().slice(origin.length))
    if (request.method() === 'POST' && request.url().endsWith('/runs')) seen.posts.push(request.headers())
  })
  page.on('console', message => {
    if (message.type() === 'error') seen.errors.push(message.text())
  })
  page.on('pageerror', error => {
    seen.errors.push(error.message)
  })
  return seen
}

async function runCount (url: string): Promise<number> {
  return (await call(`${url}/v1/jobs/echo/runs?pageSize=100`)).body.runs.length
}

if (executablePath === undefined) {
  t.plan(0, 'SKIPPED: no Chromium found (install Debian\'s "chromium" package, as .ci/run does, or set CHROMIUM_PATH)')
} else {
  t.test('local mode: start, watch, verify and cancel runs from the console in Chromium', async t => {
    const stack = await build(t, { env: { JOBGATE_MODE: 'local' }, listen: true })
    const context = await launchChromium(t, executablePath)
    const page = await context.newPage()
    const seen = watchPage(page, stack.url)

    await page.goto(`${stack.url}/`)
    t.equal(new URL(page.url()).pathname, '/console', '/ redirects to the console')
    await page.getByRole('link', { name: 'echo' }).waitFor(WAIT)
    t.equal(await page.locator('#who').textContent(), 'Local mode: no sign-in')

    await page.getByRole('link', { name: 'echo' }).click()
    await page.getByLabel('Args').fill('hello\nworld')
    await page.getByLabel('Environment').fill('TENANT_ID=acme\nREPORT_DATE=2026-11-23\nAPI_TOKEN=s3cr3t')
    await page.locator('#f-taskCount').fill('2')
    await page.getByLabel('Timeout (seconds)').fill('60')
    await page.getByRole('button', { name: 'Start run' }).dblclick()
    await page.waitForURL(/#\/jobs\/echo\/runs\/echo-/, WAIT)
    await page.locator('.state .badge', { hasText: 'SUCCEEDED' }).waitFor(WAIT)
    await page.locator('.log', { hasText: 'TENANT_ID=acme' }).waitFor(WAIT)
    t.equal(await runCount(stack.url), 1, 'a double click started one run')
    t.equal(seen.posts.length, 1, 'one run request was sent')
    t.match(seen.posts[0]?.['idempotency-key'], /^[0-9a-f]{32}$/, 'with an Idempotency-Key')
    t.match(await page.locator('#progress-text').textContent(), '2 succeeded · 0 failed · 0 running · 0 cancelled · of 2')
    const overrides = page.locator('table.overrides tbody tr')
    t.equal(await overrides.count(), 3, 'every env override is listed')
    t.equal(await overrides.filter({ hasText: 'TENANT_ID' }).locator('td').last().textContent(), 'arrived')
    t.same(await overrides.filter({ hasText: 'API_TOKEN' }).locator('td').allTextContents(), ['[REDACTED]', 'arrived (value redacted in logs)'])
    t.notMatch(await page.content(), 's3cr3t', 'a secret the job redacts is not shown on the run page')
    t.same(await page.locator('ol.args li').allTextContents(), ['hello', 'world'], 'the echoed args are set apart')
    t.ok(await page.getByRole('button', { name: 'Cancel run…' }).isHidden(), 'an ended run offers no cancel')
    const taskRows = page.locator('table.tasks tbody tr')
    await taskRows.nth(1).waitFor(WAIT)
    t.same((await taskRows.first().locator('th, td').allTextContents()).slice(0, 4), ['0', 'SUCCEEDED', '1', '0'], 'the task table: index, state, attempts, exit code')
    t.same(await accessibilityProblems(page), [], 'run page: contrast and names')
    mkdirSync(ARTIFACTS, { recursive: true })
    await page.screenshot({ path: `${ARTIFACTS}run-succeeded.png`, fullPage: true })

    // A task that failed once and then succeeded: its retry shows in the counts and in its attempts.
    await page.getByRole('link', { name: 'echo' }).click()
    await page.getByLabel('Environment').fill('ECHO_FAIL_ATTEMPTS=1')
    await page.getByRole('button', { name: 'Start run' }).click()
    await page.waitForURL(/#\/jobs\/echo\/runs\/echo-/, WAIT)
    await page.locator('.state .badge', { hasText: 'SUCCEEDED' }).waitFor(WAIT)
    await page.locator('table.tasks tbody tr td:nth-child(3)', { hasText: '2' }).waitFor(WAIT)
    t.match(await page.locator('#progress-text').textContent(), '1 succeeded · 0 failed · 0 running · 0 cancelled · of 1 · 1 retried')
    t.same((await taskRows.first().locator('th, td').allTextContents()).slice(0, 4), ['0', 'SUCCEEDED', '2', '0'], 'two attempts: the retry is visible')

    // A sleeping run: cancel asks first, and "keep it running" keeps it running.
    await page.getByRole('link', { name: 'echo' }).click()
    await page.getByLabel('Environment').fill('ECHO_SLEEP_MS=600000')
    await page.getByRole('button', { name: 'Start run' }).click()
    await page.waitForURL(/#\/jobs\/echo\/runs\/echo-/, WAIT)
    await page.locator('.log', { hasText: 'sleeping' }).waitFor(WAIT)
    await page.getByRole('button', { name: 'Cancel run…' }).click()
    await page.keyboard.press('Escape')
    await page.getByRole('dialog').waitFor({ state: 'hidden', ...WAIT })
    await page.getByRole('button', { name: 'Cancel run…' }).click()
    await page.getByRole('button', { name: 'Keep it running' }).click()
    t.equal(await page.locator('.state .badge').textContent(), 'RUNNING', 'not cancelled without confirmation (Escape, or keep it running)')
    await page.getByRole('button', { name: 'Cancel run…' }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel the run' }).click()
    await page.locator('.state .badge', { hasText: 'CANCELLED' }).waitFor(WAIT)
    await page.screenshot({ path: `${ARTIFACTS}run-cancelled.png`, fullPage: true })

    // The page checks the job's limits itself; the API's message lands next to its field.
    await page.getByRole('link', { name: 'echo' }).click()
    // The job page's own field: while the run page gives way, its "Tasks" section carries the same label.
    await page.locator('#f-taskCount').fill('10001')
    await page.getByRole('button', { name: 'Start run' }).click()
    t.equal(await page.locator('#f-taskCount-error').textContent(), 'taskCount: 10001 is over this job\'s limit of 10000')
    t.equal(seen.posts.length, 3, 'a request over the limits is not sent')
    await page.locator('#f-taskCount').fill('')
    await page.getByLabel('Environment').fill('LD_PRELOAD=/tmp/evil.so')
    await page.getByRole('button', { name: 'Start run' }).click()
    await page.locator('#f-env-error', { hasText: 'LD_PRELOAD' }).waitFor(WAIT)
    t.equal(await page.locator('#f-env-error').textContent(), 'env.LD_PRELOAD: protected; it cannot be overridden', 'the API\'s message, next to the env field')
    t.equal(await page.getByLabel('Environment').getAttribute('aria-invalid'), 'true')
    t.equal(seen.posts.length, 4)
    t.equal(await runCount(stack.url), 3, 'the refused request started nothing')
    t.same(await accessibilityProblems(page), [], 'job page with an error: contrast and names')
    await page.screenshot({ path: `${ARTIFACTS}protected-env.png`, fullPage: true })

    // Paging: 10 runs a page, newest first.
    for (let i = 0; i < 8; i++) await call(`${stack.url}/v1/jobs/echo/runs`, { body: {} })
    await page.getByRole('button', { name: 'Refresh' }).click()
    const rows = page.locator('table.runs tbody tr')
    await page.getByRole('button', { name: 'Older runs' }).and(page.locator(':enabled')).waitFor(WAIT)
    t.equal(await rows.count(), 10, 'a page of 10')
    const oldest = (await call(`${stack.url}/v1/jobs/echo/runs?pageSize=100`)).body.runs.at(-1).name
    await page.getByRole('button', { name: 'Older runs' }).click()
    await page.getByRole('button', { name: 'Newer runs' }).and(page.locator(':enabled')).waitFor(WAIT)
    t.same(await rows.locator('th').allTextContents(), [oldest], 'the 11th run is on the next page')
    t.ok(await page.getByRole('button', { name: 'Older runs' }).isDisabled(), 'and nothing is older')
    await page.getByRole('button', { name: 'Newer runs' }).click()
    await page.getByRole('button', { name: 'Newer runs' }).and(page.locator(':disabled')).waitFor(WAIT)
    t.equal(await rows.count(), 10, 'back to the newest')

    t.equal(seen.paths.filter(path => path.endsWith('/events')).length, 3, 'every run was followed on its event stream')
    t.same(seen.paths.filter(path => path.includes('?wait=') || path.includes('/logs')), [], 'not by polling')
    t.same(seen.foreign, [], 'no request left jobgate\'s origin')
    t.same(seen.errors.filter(text => !text.includes('Failed to load resource')), [], 'no script error and no CSP violation')

    // /docs shares the console's origin: it has a CSP of its own (never framed), and the UI works under it.
    const before = seen.errors.length
    await page.goto(`${stack.url}/docs`)
    await page.locator('.swagger-ui .info .title', { hasText: 'jobgate' }).waitFor(WAIT)
    await page.locator('.opblock-summary-path', { hasText: '/v1/jobs/{job}/runs/{run}/events' }).waitFor(WAIT)
    t.same(seen.errors.slice(before), [], '/docs: no script error and no CSP violation')
    t.same(seen.foreign, [], '/docs: no request left jobgate\'s origin')
  })
}
