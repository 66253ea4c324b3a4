import t from 'tap'
import { startOutside } from '../helpers/outside-run.js'
import { localStack, logReads, readEvents, runReads, startRun } from './helpers.js'

// Counts, not timings: every upstream call is in the emulator's request log.
t.test('50 waiters, 10 stream subscribers and 10 log followers on one run cost no more than one watcher', async t => {
  const stack = await localStack(t, { JOBGATE_MAX_WAITS: '1000' })
  const api = (path: string): string => `${stack.url}/v1/jobs/echo/runs/${path}`

  // Alone: one stream subscriber with logs (one watcher, one log tail) on a run of the same length.
  const alone = await startRun(stack, 1500)
  const { events } = await readEvents(await fetch(api(`${alone}/events`)))
  t.equal(events.at(-1)?.event, 'end')
  const aloneRunReads = runReads(stack.emulator.requests, alone)
  const aloneLogReads = logReads(stack.emulator.requests, alone)

  const crowded = await startRun(stack, 1500)
  let following = true
  const waiters = Array.from({ length: 50 }, async () => await (await fetch(api(`${crowded}?wait=30`))).json() as { state: string })
  const streams = Array.from({ length: 10 }, async () => await readEvents(await fetch(api(`${crowded}/events`))))
  // Followers the old way: each reads the logs route every 200 ms until the run is over.
  const followers = Array.from({ length: 10 }, async () => {
    let lines = 0
    while (following) {
      lines = (await (await fetch(api(`${crowded}/logs`))).json() as { entries: unknown[] }).entries.length
      await new Promise(resolve => setTimeout(resolve, 200))
    }
    return lines
  })
  const states = await Promise.all(waiters)
  t.ok(states.every(run => run.state === 'SUCCEEDED'), 'every waiter saw the end')
  const streamed = await Promise.all(streams)
  following = false
  const lines = await Promise.all(followers)
  t.ok(streamed.every(({ events }) => events.at(-1)?.event === 'end' && events.filter(e => e.event === 'log').length >= 3), 'every stream got the log and the end')
  t.ok(lines.every(count => count >= 3), 'every follower read the lines')

  const crowdedRunReads = runReads(stack.emulator.requests, crowded)
  const crowdedLogReads = logReads(stack.emulator.requests, crowded)
  t.comment(`executions.get: ${aloneRunReads} alone, ${crowdedRunReads} for 70 callers; entries:list: ${aloneLogReads} alone, ${crowdedLogReads} for 70 callers`)
  // One watcher's polls depend on how long the run takes; one extra read each allows for that jitter (per-client polling would be ~70×).
  t.ok(crowdedRunReads <= aloneRunReads + 1, `executions.get: ${crowdedRunReads} ≤ ${aloneRunReads} + 1`)
  t.ok(crowdedLogReads <= aloneLogReads + 1, `entries:list: ${crowdedLogReads} ≤ ${aloneLogReads} + 1`)
  t.equal(stack.services.live.runs.size, 0, 'no watcher left')
})

t.test('a finished run read 20 times costs at most one upstream call; its log too', async t => {
  const stack = await localStack(t)
  const run = await startRun(stack, 0)
  await stack.emulator.waitForExecution(run)
  for (let i = 0; i < 20; i++) {
    const response = await fetch(`${stack.url}/v1/jobs/echo/runs/${run}`)
    t.equal((await response.json() as { state: string }).state, 'SUCCEEDED')
  }
  t.ok(runReads(stack.emulator.requests, run) <= 1, `executions.get: ${runReads(stack.emulator.requests, run)}`)
  const before = logReads(stack.emulator.requests, run)
  for (let i = 0; i < 20; i++) {
    const page = await (await fetch(`${stack.url}/v1/jobs/echo/runs/${run}/logs?pageSize=2${i % 2 === 1 ? '&pageToken=2' : ''}`)).json() as { entries: unknown[], nextPageToken?: string }
    t.equal(page.entries.length, 2)
  }
  t.equal(logReads(stack.emulator.requests, run) - before, 1, 'the whole log was read once, then served from the cache')
  t.ok(runReads(stack.emulator.requests, run) <= 1, 'and the run still once')
})

t.test('the Cloud Logging budget holds under a burst of 200 log reads; a spent budget is a 429 with Retry-After', async t => {
  const stack = await localStack(t, { JOBGATE_LOGGING_READS_PER_MINUTE: '30' })
  const runs = await Promise.all(Array.from({ length: 10 }, async () => await startRun(stack, 0)))
  await Promise.all(runs.map(async run => await stack.emulator.waitForExecution(run)))
  const before = stack.emulator.requests.length
  const answers = await Promise.all(Array.from({ length: 200 }, async (_, i) => await fetch(`${stack.url}/v1/jobs/echo/runs/${runs[i % runs.length] ?? ''}/logs`)))
  const listCalls = stack.emulator.requests.slice(before).filter(request => request.path.endsWith('/v2/entries:list')).length
  t.ok(listCalls <= 30, `entries:list calls: ${listCalls}: no more than the budget of 30 a minute (the burst is a quarter of it)`)
  const refused = answers.filter(answer => answer.status !== 200)
  t.ok(refused.length > 0 && refused.length < 200, `${refused.length} of 200 were told to come back`)
  for (const answer of refused) {
    t.equal(answer.status, 429)
    t.match(answer.headers.get('retry-after'), /^\d+$/)
    t.match(await answer.json(), { error: { code: 429, status: 'RESOURCE_EXHAUSTED', message: /read budget/ } })
  }
  t.equal(stack.services.live.logBudget.taken, listCalls, 'every call upstream was counted against the budget')
})

t.test('an upstream 429 causes no retry storm: the budget closes for its Retry-After', async t => {
  const stack = await localStack(t, { JOBGATE_MAX_WAITS: '1000' })
  // Started outside jobgate: no reconciler follows it, its readers read Cloud Run.
  const run = await startOutside(stack.emulator, 'echo')
  await stack.emulator.waitForExecution(run)
  stack.emulator.failNext({ method: 'GET', pathPattern: /\/executions\// }, { status: 429, headers: { 'retry-after': '30' }, count: 1000 })
  const answers = await Promise.all(Array.from({ length: 50 }, async () => await fetch(`${stack.url}/v1/jobs/echo/runs/${run}?wait=2`)))
  t.equal(runReads(stack.emulator.requests, run), 1, '50 waiters for 2 s: one read, answered 429, then none')
  for (const answer of answers) {
    t.equal(answer.status, 429)
    const retryAfter = Number(answer.headers.get('retry-after'))
    t.ok(retryAfter > 20 && retryAfter <= 30, `Retry-After ${retryAfter}: what is left of Cloud Run's 30 s`)
  }
  const plain = await fetch(`${stack.url}/v1/jobs/echo/runs/${run}`)
  t.equal(plain.status, 429, 'a plain read is refused by jobgate, not sent')
  t.equal(runReads(stack.emulator.requests, run), 1)
})
