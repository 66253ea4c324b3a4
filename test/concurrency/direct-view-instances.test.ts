/**
 * A direct start on the instance holding a Queue job's reconciler takes the scope from its view, which may not show a run
 * another instance just started: that run's concurrency lease (in Firestore, shared) still counts it, so the view is full
 * and the start checks it on Cloud Run's list before it queues. Two API instances share the Firestore emulator and one
 * Cloud Run emulator (runs are its timers); list calls counted at the emulator.
 */
import t from 'tap'
import type { JobEntry } from '../../api/catalog.js'
import { call } from '../helpers/call.js'
import { startTwoInstances } from '../helpers/firestore-instances.js'
import { until } from '../events/helpers.js'
import { startOutside } from '../helpers/outside-run.js'

t.setTimeout(240_000)

const catalog = { jobs: { pair: { concurrency: { policy: 'Queue', maxRunning: 2 } } } }
const setup = await startTwoInstances(t, { jobs: ['pair'], catalog, collectionPrefix: 'direct-view' })
const { emulator, stacks } = setup
emulator.addJob({ project: emulator.projectId, name: 'pair', command: ['emulator:sleep'], args: ['600'], maxRetries: 0 })
const [holder, other] = stacks
const entry = holder.config.catalog.get('pair') as JobEntry
const start = async (url: string) => await call(`${url}/v1/jobs/pair/runs`, { body: {} })
const listCalls = (): number => emulator.requests.filter(request => request.method === 'GET' && request.path.endsWith('/executions')).length
const reconcilerLists = (): number => holder.services.lifecycle.runs.lists + other.services.lifecycle.runs.lists

t.test('a run another instance just started counts against the holder\'s view-based start through its lease', async t => {
  // More than a page of ended runs: a read of the whole lookback is two pages, a check of the view's runs one.
  await Promise.all(Array.from({ length: 150 }, async () => await startOutside(emulator, 'pair', {}, ['0'])))
  await until(() => emulator.unfinished(emulator.projectId, 'pair') === 0, 60_000, 'the history to end')
  const first = await start(holder.url)
  t.equal(first.status, 202)
  await until(() => holder.services.lifecycle.runs.scopeView(entry, undefined)?.running.length === 1, 60_000,
    'the holder\'s reconciler to follow its run')
  t.equal(other.services.lifecycle.runs.scopeView(entry, undefined), undefined, 'the other instance has no view: it reads Cloud Run')
  const second = await start(other.url)
  t.match(second, { status: 202, body: { state: /^(PENDING|RUNNING)$/ } }, 'the last slot, taken on the other instance')
  const unseen = holder.services.lifecycle.runs.scopeView(entry, undefined)?.running.every(run => run.name !== second.body.name)
  const [upstream, reconcilers] = [listCalls(), reconcilerLists()]
  const third = await start(holder.url)
  t.equal(listCalls() - upstream - (reconcilerLists() - reconcilers), 1,
    'the view, full with the other instance\'s lease, was checked back to its own run: one page, not the whole lookback')
  t.match(third, { status: 202, body: { state: 'QUEUED' } }, 'queued: the other instance\'s run holds its slot')
  t.comment(unseen === true ? 'the view did not show the other instance\'s run yet: its lease counted it' : 'the view had caught up')
  t.equal(emulator.unfinished(emulator.projectId, 'pair'), 2, 'never more than maxRunning')
  for (const run of [first, second, third]) {
    await call(`${holder.url}/v1/jobs/pair/runs/${run.body.name as string}/cancel`, { method: 'POST' })
  }
})
