/**
 * `events.external`: runs started outside jobgate (here: straight at the Cloud Run emulator, as gcloud
 * or the Console would) get their started and finished events too; jobgate's own runs still once.
 */
import t from 'tap'
import { startOutside as startOutsideAt } from '../helpers/outside-run.js'
import { build } from '../helper.js'
import { countsOf, EventFollower, until } from './helpers.js'

t.setTimeout(300_000)

const stack = await build(t, {
  env: {
    JOBGATE_MODE: 'local',
    JOBGATE_JOBS: JSON.stringify({ jobs: { echo: { events: { external: true } }, plain: {} } })
  },
  listen: true
})
const follower = await EventFollower.open(stack.url)
t.teardown(() => { follower.close() })

const startOutside = async (job: string): Promise<string> => await startOutsideAt(stack.emulator, job)

t.test('a run started outside jobgate: one started and one finished event', async t => {
  const outside = await startOutside('echo')
  const inside = (await stack.app.inject({ method: 'POST', url: '/v1/jobs/echo/runs', payload: {} })).json<{ name: string }>().name
  await follower.waitFor(() => [outside, inside].every(run => follower.of(run).some(event => event.event === 'jobgate.run.finished')),
    'both runs finished', 120_000)
  const counts = countsOf(follower.received)
  for (const run of [outside, inside]) {
    t.equal(counts.get(`jobgate.run.started jobs/echo/runs/${run}`), 1, `${run}: started once`)
    t.equal(counts.get(`jobgate.run.finished jobs/echo/runs/${run}`), 1, `${run}: finished once`)
  }
  t.match(follower.of(outside).at(-1)?.data, { data: { name: outside, state: 'SUCCEEDED' } })
})

t.test('a job without events.external: outside runs get no events', async t => {
  const outside = await startOutside('plain')
  await until(() => stack.emulator.executions(undefined, 'plain').some(run => run.metadata.name === outside && run.status.completionTime !== undefined),
    120_000, 'the outside run to end')
  const inside = (await stack.app.inject({ method: 'POST', url: '/v1/jobs/plain/runs', payload: {} })).json<{ name: string }>().name
  await follower.waitFor(() => follower.of(inside).some(event => event.event === 'jobgate.run.finished'), 'jobgate\'s own run finished', 120_000)
  t.same(follower.of(outside), [], 'nothing for the outside run')
})
