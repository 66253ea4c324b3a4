/** The console's Activity page in Chromium: runs appear as they start and end (GET /v1/events), for this caller only. */
import t from 'tap'
import { accessibilityProblems } from '../helpers/a11y.js'
import { findChromium, launchChromium } from '../helpers/chromium.js'
import { build } from '../helper.js'

const executablePath = findChromium()
const WAIT = { timeout: 60_000 }

if (executablePath === undefined) {
  t.plan(0, 'SKIPPED: no Chromium found (install Debian\'s "chromium" package, as .ci/run does, or set CHROMIUM_PATH)')
} else {
  t.test('Activity: a run started elsewhere shows up as started, then ended, with a link to it', async t => {
    const stack = await build(t, { env: { JOBGATE_MODE: 'local', JOBGATE_JOBS: JSON.stringify({ jobs: { echo: {}, nightly: {} } }) }, listen: true })
    const context = await launchChromium(t, executablePath)
    const page = await context.newPage()
    const errors: string[] = []
    page.on('pageerror', error => { errors.push(error.message) })
    await page.goto(`${stack.url}/console#/activity`)
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor(WAIT)
    t.equal(await page.locator('#activity-empty').isVisible(), true, 'nothing yet')

    const started = await stack.app.inject({ method: 'POST', url: '/v1/jobs/echo/runs', payload: { env: { ECHO_EXIT_CODE: '3' } } })
    const { name } = started.json<{ name: string }>()
    const rows = page.locator('table tbody tr')
    await rows.filter({ hasText: 'ended' }).filter({ hasText: name }).waitFor(WAIT)
    t.same(await rows.locator('td:nth-child(2)').allTextContents(), ['ended', 'started'], 'newest first: its end above its start')
    t.equal(await rows.first().locator('.badge').textContent(), 'FAILED')
    t.match(await rows.first().textContent(), /0 succeeded · 1 failed · of 1/)
    t.equal(await rows.first().getByRole('link', { name }).getAttribute('href'), `#/jobs/echo/runs/${name}`)

    // One job only: the page follows ?job=nightly from here on.
    await page.getByLabel('Show').selectOption('nightly')
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor(WAIT)
    const nightly = (await stack.app.inject({ method: 'POST', url: '/v1/jobs/nightly/runs', payload: {} })).json<{ name: string }>().name
    const other = (await stack.app.inject({ method: 'POST', url: '/v1/jobs/echo/runs', payload: {} })).json<{ name: string }>().name
    await rows.filter({ hasText: 'ended' }).filter({ hasText: nightly }).waitFor(WAIT)
    await stack.emulator.waitForExecution(other)
    t.equal(await page.locator('table tbody tr', { hasText: other }).count(), 0, 'another job\'s runs are not shown')
    t.same(await accessibilityProblems(page), [], 'contrast and names')
    t.same(errors, [], 'no script error')
  })
}
