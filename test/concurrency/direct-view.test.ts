/**
 * Direct starts (within the limit) take the concurrency scope from the job's reconciler instead of paging through Cloud
 * Run's list, where that view counts what the rule counts: one instance in local mode, the emulator's timer runs
 * (`emulator:sleep`), list calls counted in the emulator's request log less the reconciler's own.
 */
import t from 'tap'
import type { JobEntry } from '../../api/catalog.js'
import { MAX_VIEW_PAGES, VIEW_PAGE_SIZE } from '../../api/concurrency/scope-view.js'
import { executionEnv, runCalls, until } from '../events/helpers.js'
import { build } from '../helper.js'
import { call } from '../helpers/call.js'
import { startOutside } from '../helpers/outside-run.js'

t.setTimeout(300_000)

const catalog = {
  jobs: {
    busy: { concurrency: { policy: 'Queue', maxRunning: 20 } },
    guarded: { concurrency: { policy: 'Forbid', maxRunning: 2 } },
    watched: { events: { external: true }, concurrency: { policy: 'Forbid' } },
    racing: { env: { allow: ['N'] }, concurrency: { policy: 'Queue', maxRunning: 3 } }
  }
}
const stack = await build(t, {
  env: { JOBGATE_MODE: 'local', JOBGATE_JOBS: JSON.stringify(catalog), JOBGATE_RATE_LIMIT: '100000', JOBGATE_READ_RATE_LIMIT: '100000' },
  listen: true
})
const { emulator } = stack
const lifecycle = stack.services.lifecycle.runs
const project = emulator.projectId
// Timers, not processes: a run lasts its first arg's seconds (a start may override it).
for (const [name, seconds] of Object.entries({ busy: '600', guarded: '600', watched: '600', racing: '1' })) {
  emulator.addJob({ project, name, command: ['emulator:sleep'], args: [seconds], maxRetries: 0 })
}
const entryOf = (job: string): JobEntry => stack.config.catalog.get(job) as JobEntry

const start = async (job: string, env: Record<string, string> = {}) => await call(`${stack.url}/v1/jobs/${job}/runs`, { body: { env } })
const cancel = async (job: string, run: string) => await call(`${stack.url}/v1/jobs/${job}/runs/${run}/cancel`, { method: 'POST' })
const listCalls = (): number => emulator.requests.filter(request => request.method === 'GET' && request.path.endsWith('/executions')).length
/** executions.list calls made while `action` ran, less the reconcilers' own passes: what the starts themselves read. */
async function listsBy<T> (action: () => Promise<T>): Promise<{ result: T, lists: number }> {
  // A pass under way has sent its list call but counts it only when its scan ends: count between passes, never across one.
  const passesSettled = async (): Promise<void> => { await Promise.all(lifecycle.reconcilers.map(async pass => await pass.settled())) }
  await passesSettled()
  const [upstream, reconcilers] = [listCalls(), lifecycle.lists]
  const result = await action()
  await passesSettled()
  return { result, lists: listCalls() - upstream - (lifecycle.lists - reconcilers) }
}
const viewOf = (job: string) => lifecycle.scopeView(entryOf(job), undefined)

t.test('a Queue job with more than MAX_VIEW_PAGES pages of recent history: starts within the limit read no list', async t => {
  const history = MAX_VIEW_PAGES * VIEW_PAGE_SIZE + 50
  // Runs started (and ended at once) outside jobgate: every one newer than the job's longest timeout.
  for (let done = 0; done < history; done += 50) {
    await Promise.all(Array.from({ length: 50 }, async () => await startOutside(emulator, 'busy', {}, ['0'])))
  }
  await until(() => emulator.unfinished(project, 'busy') === 0, 60_000, 'the history to end')
  const first = await listsBy(async () => await start('busy'))
  t.match(first.result, { status: 202, body: { state: /^(PENDING|RUNNING)$/ } })
  t.equal(first.lists, MAX_VIEW_PAGES, 'no reconciler view yet: the first start pages through Cloud Run\'s list')
  await until(() => viewOf('busy') !== undefined, 60_000, 'the reconciler\'s first complete scan')
  const starts = 10
  const { result: answers, lists } = await listsBy(async () => {
    const answers = []
    for (let i = 0; i < starts; i++) answers.push(await start('busy'))
    return answers
  })
  t.same(answers.map(answer => answer.status), answers.map(() => 202))
  t.notOk(answers.some(answer => answer.body.state === 'QUEUED'), 'all within the limit: started at once')
  t.equal(lists, 0, `${starts} direct starts: no list call of their own (before: ${MAX_VIEW_PAGES} each)`)
  t.equal(emulator.unfinished(project, 'busy'), starts + 1)
  for (const run of [first.result, ...answers]) await cancel('busy', run.body.name as string)
})

t.test('Forbid without events.external: a run started outside jobgate still counts, whatever the reconciler sees', async t => {
  const inside = await start('guarded')
  t.equal(inside.status, 202)
  const outside = await startOutside(emulator, 'guarded')
  await until(() => viewOf('guarded') !== undefined, 60_000, 'the reconciler\'s view of the job')
  t.same(viewOf('guarded')?.running.map(run => run.name), [inside.body.name], 'the view has jobgate\'s run only')
  const refused = await listsBy(async () => await start('guarded'))
  t.equal(refused.result.status, 409, 'maxRunning 2: jobgate\'s run and the outside one')
  t.same([...refused.result.body.error.runningRuns].sort(), [inside.body.name, outside].sort())
  t.ok(refused.lists >= 1, 'read from Cloud Run\'s list')
  await cancel('guarded', inside.body.name as string)
  await cancel('guarded', outside)
})

t.test('Forbid with events.external: admitted on the view without a list; a refusal reads Cloud Run first; outside runs count', async t => {
  const first = await start('watched')
  t.equal(first.status, 202)
  await until(() => viewOf('watched')?.running.length === 1, 60_000, 'the reconciler to follow the run')
  const refused = await listsBy(async () => await start('watched'))
  t.match(refused.result, { status: 409, body: { error: { runningRuns: [first.body.name] } } })
  t.ok(refused.lists >= 1, 'the refusal was confirmed on Cloud Run\'s list, never answered on the view alone')
  await cancel('watched', first.body.name as string)
  await until(() => viewOf('watched')?.running.length === 0, 60_000, 'the reconciler to see the run end')
  const admitted = await listsBy(async () => await start('watched'))
  t.equal(admitted.result.status, 202)
  t.equal(admitted.lists, 0, 'admitted on the reconciler\'s view: no list')
  await cancel('watched', admitted.result.body.name as string)
  await until(() => viewOf('watched')?.running.length === 0, 60_000, 'the reconciler to see that run end')
  const outside = await startOutside(emulator, 'watched')
  await until(() => viewOf('watched')?.running.some(run => run.name === outside) === true, 60_000, 'the outside run adopted')
  const blocked = await start('watched')
  t.match(blocked, { status: 409, body: { error: { runningRuns: [outside] } } }, 'the outside run counts')
  await cancel('watched', outside)
})

t.test('direct starts racing admissions: each run starts exactly once, never more than maxRunning at a time', async t => {
  // One sender more than slots: a run ends, its admission takes the slot while that sender's next start comes in.
  const senders = 4
  const perSender = 4
  let peak = 0
  const sampler = setInterval(() => { peak = Math.max(peak, emulator.unfinished(project, 'racing')) }, 10)
  t.teardown(() => { clearInterval(sampler) })
  const from = runCalls(emulator)
  const states: string[] = []
  // Each sender starts its next run once its last one ended: new starts keep arriving as the reconciler admits.
  await Promise.all(Array.from({ length: senders }, async (_, sender) => {
    for (let i = 0; i < perSender; i++) {
      const answer = await start('racing', { N: `${sender}-${i}` })
      states.push(answer.body.state as string)
      for (let run = answer.body; !['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(run.state as string);) {
        run = (await call(`${stack.url}/v1/jobs/racing/runs/${answer.body.name as string}?wait=60`)).body
      }
    }
  }))
  clearInterval(sampler)
  const executions = emulator.executions(project, 'racing')
  const byStart = executions.map(execution => executionEnv(execution).N).sort()
  const expected = Array.from({ length: senders * perSender }, (_, n) => `${Math.floor(n / perSender)}-${n % perSender}`).sort()
  t.same(byStart, expected, 'one execution per start')
  t.equal(runCalls(emulator) - from, senders * perSender, 'one :run call per start')
  t.ok(peak <= 3, `never more than maxRunning at once (peak ${peak})`)
  t.comment(`${states.filter(state => state === 'QUEUED').length} of ${states.length} starts queued, the others started at once`)
})
