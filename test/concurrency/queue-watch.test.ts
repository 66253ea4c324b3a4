/**
 * QueueWatch and QueuedRunStream with stand-ins for the lifecycle and the event feed: how many looks at a job's
 * queue its watchers cost (counted), and how a queued run's stream ends on each way out. queue.test.ts drives both
 * end to end.
 */
import { PassThrough } from 'node:stream'
import t from 'tap'
import type { FeedListener, RunRecord, StoredEvent } from '../../api/lifecycle/index.js'
import { QueueWatch, type QueueListener, type QueueView } from '../../api/runs/queue-watch.js'
import { runOfView } from '../../api/runs/queued-runs.js'
import { QueuedRunStream, type ExecutionStream } from '../../api/runs/queued-stream.js'
import { captureLogs } from '../helpers/log-capture.js'
import { testEntry } from '../helpers/catalog-entry.js'
import { eventually } from '../lifecycle/pubsub-helpers.js'
import { queuedOf } from '../lifecycle/queue-store-suite.js'

const job = testEntry({ concurrency: { policy: 'Queue' } }, 'job')
const other = testEntry({ concurrency: { policy: 'Queue' } }, 'other')

/** A run event of `jobId` as the feed hands it out (only `job` matters to the watch). */
const eventOf = (jobId: string): StoredEvent => ({ job: jobId } as unknown as StoredEvent)

/** Records by id, a feed to push events into, and every call the watch makes, counted. */
function standIns (options: { gated?: boolean } = {}) {
  const records = new Map<string, RunRecord | undefined>()
  const calls = { records: 0, positions: [] as string[][], follows: 0, stops: 0 }
  const gates: Array<() => void> = []
  let listener: FeedListener | undefined
  let failures = 0
  const lifecycle = {
    queuedRecord: async (_entry: unknown, id: string) => { calls.records++; return records.get(id) },
    positions: async (queued: readonly RunRecord[]) => {
      calls.positions.push(queued.map(record => record.id))
      if (options.gated === true) await new Promise<void>(resolve => { gates.push(resolve) })
      if (failures > 0) { failures--; throw new Error('store unreachable') }
      return queued.map((_record, at) => at + 1)
    }
  }
  const feed = {
    follow: (_cursor: unknown, follower: FeedListener) => {
      calls.follows++
      listener = follower
      return () => { calls.stops++; listener = undefined }
    }
  }
  return {
    records,
    calls,
    lifecycle,
    feed,
    push: (...events: StoredEvent[]) => { listener?.events(events) },
    gap: () => { listener?.gap('0') },
    openGate: () => { gates.shift()?.() },
    fail: (count: number) => { failures = count }
  }
}

const IDLE = 600_000

t.test('a burst of events while a look is under way makes one more look, not one per event', async t => {
  const world = standIns({ gated: true })
  const watch = new QueueWatch({ ...world, log: captureLogs().logger, minIntervalMs: 0, idleMs: IDLE })
  const record = queuedOf('job', 'acme')
  world.records.set(record.id, record)
  const views: Array<QueueView | undefined> = []
  const stop = watch.watch(job, record.id, view => { views.push(view) })
  await eventually(async () => world.calls.positions.length === 1, 30_000, 'the first look')
  for (let i = 0; i < 1000; i++) world.push(eventOf('job'))
  world.gap()
  await new Promise(resolve => setImmediate(resolve))
  t.equal(world.calls.positions.length, 1, 'one look at a time: 1,000 events wait for the one under way')
  world.openGate()
  await eventually(async () => world.calls.positions.length === 2, 30_000, 'the look after the burst')
  t.same(views, [{ record, position: 1 }], 'the first look told its view')
  world.openGate()
  await eventually(async () => views.length === 2, 30_000, 'the second view')
  t.equal(world.calls.positions.length, 2, 'the burst cost one look')
  world.push(eventOf('other'))
  await new Promise(resolve => setImmediate(resolve))
  t.equal(world.calls.positions.length, 2, 'another job\'s event: no look')
  stop()
  t.same([world.calls.follows, world.calls.stops, watch.jobs], [1, 1, 0], 'the last watcher gone: the feed is let go')
})

t.test('one look per job serves every watcher of it; places from one positions call for all its queued runs', async t => {
  const world = standIns()
  const watch = new QueueWatch({ ...world, log: captureLogs().logger, idleMs: IDLE })
  const queued = Array.from({ length: 50 }, () => queuedOf('job', 'acme'))
  const starting = { ...queuedOf('job', 'acme'), phase: 'starting' as const }
  const elsewhere = queuedOf('other', 'acme')
  for (const record of [...queued, starting, elsewhere]) world.records.set(record.id, record)
  world.records.set('job-qgone00000', undefined)
  const seen = new Map<string, Array<QueueView | undefined>>()
  const listen = (id: string): QueueListener => view => { seen.set(id, [...seen.get(id) ?? [], view]) }
  // Two streams follow each queued run.
  const stops = [...queued, starting, { id: 'job-qgone00000' }].flatMap(record =>
    [watch.watch(job, record.id, listen(record.id)), watch.watch(job, record.id, listen(record.id))])
  stops.push(watch.watch(other, elsewhere.id, listen(elsewhere.id)), watch.watch(other, elsewhere.id, listen(elsewhere.id)))
  await eventually(async () => seen.size === 53 && [...seen.values()].every(views => views.length === 2), 30_000, 'every view')
  t.equal(watch.jobs, 2)
  t.same(world.calls.positions.map(ids => ids.length).sort((a, b) => a - b), [1, 50], 'one positions call per job')
  t.equal(world.calls.records, 53, 'one record read per watched run, however many follow it')
  t.same(seen.get(queued[49]?.id as string), [{ record: queued[49], position: 50 }, { record: queued[49], position: 50 }])
  t.same(seen.get(starting.id), [{ record: starting }, { record: starting }], 'admitted meanwhile: no place')
  t.same(seen.get('job-qgone00000'), [undefined, undefined], 'a record that is gone')
  for (const stop of stops) { stop(); stop() }
  t.same([world.calls.follows, world.calls.stops, watch.jobs], [1, 1, 0])
})

t.test('a look that fails is logged and tried again; a job watched again starts afresh', async t => {
  const logs = captureLogs()
  const world = standIns()
  const watch = new QueueWatch({ ...world, log: logs.logger, minIntervalMs: 0, idleMs: 0 })
  const record = queuedOf('job', 'acme')
  world.records.set(record.id, record)
  world.fail(1)
  const views: Array<QueueView | undefined> = []
  const stop = watch.watch(job, record.id, view => { views.push(view) })
  await eventually(async () => views.length > 0, 30_000, 'a view after the failure')
  t.match(logs.lines.filter(line => line.severity === 'WARNING'),
    [{ job: 'job', message: /could not read the queue of job "job"; trying again/, err: { message: 'store unreachable' } }])
  stop()
  const again = watch.watch(job, record.id, () => {})
  t.same([world.calls.follows, watch.jobs], [2, 1], 'followed again')
  again()
})

/** A watch that tells what the test says, when it says. */
function scriptedWatch () {
  const listeners = new Set<QueueListener>()
  let unwatched = 0
  return {
    watch: {
      watch: (_entry: unknown, _id: string, listener: QueueListener) => {
        listeners.add(listener)
        return () => { unwatched++; listeners.delete(listener) }
      }
    },
    tell: (view: QueueView | undefined) => { for (const listener of [...listeners]) listener(view) },
    get unwatched () { return unwatched }
  }
}

async function textOf (body: PassThrough): Promise<string> {
  let text = ''
  for await (const chunk of body) text += String(chunk)
  return text
}

const queuedRecord = queuedOf('job', 'acme')
type Started = (execution: string) => Promise<ExecutionStream>
const streamOf = (watch: ReturnType<typeof scriptedWatch>, started: Started, heartbeatMs = 60_000) => {
  const streams = new Set<{ shutdown: () => void }>()
  const stream = new QueuedRunStream({
    watch: watch.watch as never,
    entry: job,
    id: queuedRecord.id,
    run: runOfView({ record: queuedRecord, position: 3 }),
    started,
    streams,
    heartbeatMs
  })
  return { stream, streams }
}
const never = async (): Promise<ExecutionStream> => await new Promise(() => {})

t.test('a queued run\'s stream: the same place is not told twice; a record that is gone or a failed follow ends it', async t => {
  const watch = scriptedWatch()
  const { stream, streams } = streamOf(watch, async () => { throw new Error('not found') })
  t.equal(streams.size, 1, 'ended with the server')
  const text = textOf(stream.body)
  watch.tell({ record: queuedRecord, position: 3 })
  watch.tell({ record: queuedRecord, position: 2 })
  watch.tell({ record: { ...queuedRecord, execution: 'job-abcde', phase: 'started' } })
  t.same((await text).match(/"position":\d/g), ['"position":3', '"position":2'], 'each place once')
  t.equal(streams.size, 0)

  const goneWatch = scriptedWatch()
  const gone = streamOf(goneWatch, never)
  const goneText = textOf(gone.stream.body)
  goneWatch.tell(undefined)
  t.match(await goneText, /^event: run\n/, 'a record that is gone: the stream ends (a reconnect gets the 404)')
  const shut = streamOf(scriptedWatch(), never)
  const shutText = textOf(shut.stream.body)
  for (const open of shut.streams) open.shutdown()
  t.match(await shutText, /"state":"QUEUED"/, 'the server shutting down ends it')
})

t.test('a queued run\'s stream: a heartbeat while it waits; a client gone before its execution\'s stream began closes that', async t => {
  const watch = scriptedWatch()
  let resolve: (stream: ExecutionStream) => void = () => {}
  const { stream } = streamOf(watch, async () => await new Promise(done => { resolve = done }), 10)
  const chunks: string[] = []
  stream.body.on('data', chunk => { chunks.push(String(chunk)) })
  await eventually(async () => chunks.join('').includes(': heartbeat\n\n'), 30_000, 'a heartbeat')
  watch.tell({ record: { ...queuedRecord, execution: 'job-abcde', phase: 'started' } })
  t.equal(watch.unwatched, 1, 'admitted: no more places')
  stream.close()
  let closed = 0
  resolve({ body: new PassThrough(), close: () => { closed++ } })
  await eventually(async () => closed === 1, 30_000, 'the execution\'s stream closed')
  t.pass('the execution\'s stream began after the client left, and was closed')
})
