/**
 * A queued run's page in Chromium: its place in the queue changes as runs ahead leave it, without a reload and without
 * a read of Cloud Run (the run's event stream tells it, from jobgate's records), then it turns RUNNING when admitted.
 */
import { mkdirSync } from 'node:fs'
import t from 'tap'
import { accessibilityProblems } from '../helpers/a11y.js'
import { call } from '../helpers/call.js'
import { findChromium, launchChromium } from '../helpers/chromium.js'
import { build } from '../helper.js'

const executablePath = findChromium()
const ARTIFACTS = new URL('../../.artifacts/console/', import.meta.url).pathname
const WAIT = { timeout: 60_000 }
const SLEEP = { ECHO_SLEEP_MS: '600000' }

if (executablePath === undefined) {
  t.plan(0, 'SKIPPED: no Chromium found (install Debian\'s "chromium" package, as .ci/run does, or set CHROMIUM_PATH)')
} else {
  t.test('a queued run\'s page: QUEUED (position 2), then (position 1) as the run ahead is cancelled, then RUNNING', async t => {
    const jobs = { queue: { env: { allow: ['ECHO_*'] }, concurrency: { policy: 'Queue', maxRunning: 1 } } }
    const stack = await build(t, { env: { JOBGATE_MODE: 'local', JOBGATE_JOBS: JSON.stringify({ jobs }) }, listen: true })
    const start = async (): Promise<string> => (await call(`${stack.url}/v1/jobs/queue/runs`, { body: { env: SLEEP } })).body.name
    const cancel = async (name: string): Promise<void> => {
      t.equal((await call(`${stack.url}/v1/jobs/queue/runs/${name}/cancel`, { method: 'POST' })).status, 200, `cancelled ${name}`)
    }
    const blocker = await start()
    const [ahead, queued, behind] = [await start(), await start(), await start()]
    const context = await launchChromium(t, executablePath)
    const page = await context.newPage()
    const paths: string[] = []
    const errors: string[] = []
    page.on('request', request => { paths.push(request.url().slice(stack.url.length)) })
    page.on('pageerror', error => { errors.push(error.message) })
    let loads = 0
    page.on('load', () => { loads++ })

    await page.goto(`${stack.url}/console#/jobs/queue/runs/${queued}`)
    const badge = page.locator('.state .badge')
    await badge.filter({ hasText: 'QUEUED (position 2)' }).waitFor(WAIT)
    t.same(await accessibilityProblems(page), [], 'a queued run\'s page: contrast and names')
    mkdirSync(ARTIFACTS, { recursive: true })
    await page.screenshot({ path: `${ARTIFACTS}run-queued.png`, fullPage: true })
    const upstreamFrom = stack.emulator.requests.length
    const pathsFrom = paths.length

    await cancel(ahead)
    await badge.filter({ hasText: 'QUEUED (position 1)' }).waitFor(WAIT)
    t.equal(loads, 1, 'no reload: the page was told')
    t.same(paths.slice(pathsFrom), [], 'and asked nothing more: its event stream carried the new place')
    const upstream = stack.emulator.requests.slice(upstreamFrom)
    t.same(upstream.filter(request => !(request.method === 'GET' && /\/executions$/.test(request.path))).map(request => request.path), [],
      'Cloud Run saw no call while the page watched the queue, but the job reconciler\'s lists')
    t.same(paths.filter(path => path.includes('/events')), [`/v1/jobs/queue/runs/${queued}/events`], 'one event stream')

    await cancel(blocker)
    await badge.filter({ hasText: /^RUNNING$/ }).waitFor(WAIT)
    t.equal(loads, 1, 'admitted: RUNNING, still without a reload')
    t.same(paths.filter(path => path.includes('/events')), [`/v1/jobs/queue/runs/${queued}/events`], 'on the same event stream')
    t.same(paths.filter(path => path.includes('?wait=')), [], 'never by polling')
    await cancel(queued)
    await badge.filter({ hasText: 'CANCELLED' }).waitFor(WAIT)
    await cancel(behind)
    t.same(errors, [], 'no script error')
  })
}
