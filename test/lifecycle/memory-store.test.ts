/** The memory lifecycle store: the shared scenarios, and its bounds. */
import t from 'tap'
import { MemoryLifecycleStore } from '../../api/lifecycle/memory-store.js'
import { startCountsUntil } from '../../api/lifecycle/run-record.js'
import { lifecycleStoreSuite, recordEnd, recordOf, recordStart } from './store-suite.js'
import { queueStoreSuite } from './queue-store-suite.js'
import { batchStoreSuite } from './batch-store-suite.js'

const store = new MemoryLifecycleStore()
lifecycleStoreSuite(t, () => [store, store])
queueStoreSuite(t, () => [store, store])
batchStoreSuite(t, () => [store, store])

t.test('bounded: the log, the outbox and the unfinished records each drop their oldest past their limit, and say so', async t => {
  const dropped: string[] = []
  const small = new MemoryLifecycleStore({
    maxEvents: 3,
    maxUnpublished: 2,
    maxFinished: 1,
    maxOpen: 2,
    onDrop: what => { dropped.push('event' in what ? `event ${what.event.id}` : `record ${what.record.id}`) }
  })
  const records = [recordOf('b'), recordOf('b'), recordOf('b')]
  for (const record of records) await small.begin(record)
  t.same(dropped, [`record ${records[0]?.id as string}`], 'the oldest unfinished record is given up')
  t.equal(small.sizes.open, 2)
  await recordStart(small, records[1] as never, 'b-1')
  await recordStart(small, records[2] as never, 'b-2')
  await recordEnd(small, records[1] as never, 'b-1')
  await recordEnd(small, records[2] as never, 'b-2')
  t.same(small.sizes, { open: 0, queued: 0, finished: 1, events: 3, unpublished: 2 })
  t.equal(dropped.filter(line => line.startsWith('event')).length, 2, 'two events dropped unpublished')
  const horizon = small.horizon(86_400_000)
  t.ok(horizon > '0', 'the log knows where it starts now')
  t.same(await small.record(records[1]?.id as string), undefined, 'only the latest finished record is kept')
})

t.test('finished records past the bound stay while their start still counts against the starts-per-minute ceiling', async t => {
  let now = 0
  const small = new MemoryLifecycleStore({ maxFinished: 1, now: () => now })
  const records = [1, 2, 3].map(() => recordOf('w', { startCountsUntil: startCountsUntil(now, false) }))
  for (const [i, record] of records.entries()) {
    await small.begin(record)
    await recordEnd(small, record, `w-${i}`)
  }
  t.equal(await small.countRecentStarts(['w'], now), 3, 'three starts within the minute, though only one finished record is kept otherwise')
  now = 200_000
  await recordEnd(small, recordOf('w'), 'w-late')
  t.equal(small.sizes.finished, 1, 'once they no longer count, the bound holds again')
})

t.test('a horizon: events before its start, or older than the retention, are not in the log', async t => {
  let now = 1_000_000
  const clocked = new MemoryLifecycleStore({ now: () => now })
  const start = clocked.horizon(86_400_000)
  now += 10_000
  t.equal(clocked.horizon(86_400_000), start, 'within the retention: the store\'s start')
  now += 86_400_000
  t.ok(clocked.horizon(86_400_000) > start, 'past it: the retention floor')
})
