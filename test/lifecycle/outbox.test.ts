/** The outbox's publishing half and the Pub/Sub publisher, over the memory store (and undici's MockAgent for Pub/Sub). */
import t from 'tap'
import { GoogleHttp } from '../../api/google/http.js'
import { MemoryLifecycleStore } from '../../api/lifecycle/memory-store.js'
import { Outbox, SWEEP_FLOOR_MS } from '../../api/lifecycle/outbox.js'
import { PubsubPublisher, pubsubMessage, topicProblem, type EventPublisher } from '../../api/lifecycle/pubsub-publisher.js'
import type { StoredEvent } from '../../api/lifecycle/run-record.js'
import { FakeTokenSource } from '../helpers/fake-token-source.js'
import { captureLogs } from '../helpers/log-capture.js'
import { MockGoogleApi } from '../helpers/mock-google-api.js'
import { recordOf, recordStart, recordEnd } from './store-suite.js'
import { until } from './helpers.js'
import { eventually } from './pubsub-helpers.js'

/** A publisher that fails while `down`, and counts what it published. */
class FlakyPublisher implements EventPublisher {
  down = false
  readonly published: string[] = []
  async publish (events: readonly StoredEvent[]): Promise<void> {
    if (this.down) throw new Error('Pub/Sub is down')
    this.published.push(...events.map(event => event.id))
  }
}

async function recordedEvents (store: MemoryLifecycleStore, job: string, runs: number): Promise<StoredEvent[]> {
  const events: StoredEvent[] = []
  for (let i = 0; i < runs; i++) {
    const record = recordOf(job)
    await store.begin(record)
    events.push(await recordStart(store, record, `${job}-r${i}`) as StoredEvent)
  }
  return events
}

t.test('events recorded here go out in one publish, each once, and are marked', async t => {
  let now = 1_000_000
  const store = new MemoryLifecycleStore({ now: () => now })
  const publisher = new FlakyPublisher()
  const outbox = new Outbox({ store, publisher, log: captureLogs().logger, maxWaitMs: 3_600_000, now: () => now })
  const events = await recordedEvents(store, 'job', 3)
  for (const event of events) outbox.recorded(event)
  await until(() => publisher.published.length === 3, 10_000, 'three published')
  await eventually(async () => (await store.unpublished('job', 10)).length === 0, 10_000, 'marked')
  t.same(publisher.published, events.map(event => event.id))
  now += SWEEP_FLOOR_MS + 1
  t.equal(await outbox.sweep('job'), true, 'nothing left to sweep')
  t.equal(publisher.published.length, 3, 'the sweep published nothing again')
  t.equal(outbox.published, 3)
})

t.test('Pub/Sub down: events wait; the sweep retries after a growing pause and publishes them once it is back', async t => {
  let now = 1_000_000
  const store = new MemoryLifecycleStore({ now: () => now })
  const publisher = new FlakyPublisher()
  const logs = captureLogs()
  const outbox = new Outbox({ store, publisher, log: logs.logger, maxWaitMs: 3_600_000, now: () => now })
  publisher.down = true
  const events = await recordedEvents(store, 'job', 2)
  for (const event of events) outbox.recorded(event)
  await until(() => logs.lines.some(line => /wait in the outbox/.test(line.message)), 10_000, 'the failure line')
  t.ok(outbox.sweepDueAt('job') > now, 'a pause before the next try')
  t.equal(await outbox.sweep('job'), false, 'not yet due')
  now = outbox.sweepDueAt('job')
  t.equal(await outbox.sweep('job'), false, 'due, but still down')
  t.ok(outbox.sweepDueAt('job') - now >= 2_000, 'the pause grows')
  publisher.down = false
  now = outbox.sweepDueAt('job')
  t.equal(await outbox.sweep('job'), true, 'back: all out')
  t.same(publisher.published, events.map(event => event.id), 'each once, in order')
  t.same(await store.unpublished('job', 10), [])
})

t.test('another instance\'s recent events are left to it; older ones are swept; past the bound one is given up', async t => {
  let now = 1_000_000
  const store = new MemoryLifecycleStore({ now: () => now })
  const publisher = new FlakyPublisher()
  const logs = captureLogs()
  const outbox = new Outbox({ store, publisher, log: logs.logger, maxWaitMs: 3_600_000, now: () => now })
  const [young] = await recordedEvents(store, 'job', 1)
  t.equal(await outbox.sweep('job'), false, 'a recent event of another instance: its own publish is under way')
  t.same(publisher.published, [])
  now += SWEEP_FLOOR_MS
  t.equal(await outbox.sweep('job'), true)
  t.same(publisher.published, [young?.id])
  const [old] = await recordedEvents(store, 'old', 1)
  now += 3_600_001
  t.equal(await outbox.sweep('old'), true)
  t.same(publisher.published, [young?.id], 'the too-old event is not published')
  t.ok(logs.lines.some(line => line.severity === 'ERROR' && line.ceId === old?.id && /given up unpublished/.test(line.message)))
  t.same(await store.unpublished('old', 10), [], 'and not tried again')
})

t.test('published but not marked: an error line, and the event waits for the sweep (same ce-id)', async t => {
  const store = new MemoryLifecycleStore()
  const publisher = new FlakyPublisher()
  const logs = captureLogs()
  const outbox = new Outbox({ store, publisher, log: logs.logger, maxWaitMs: 3_600_000 })
  const [event] = await recordedEvents(store, 'job', 1)
  store.markPublished = async () => { throw new Error('store down') }
  outbox.recorded(event as StoredEvent)
  await until(() => logs.lines.some(line => /could not mark them sent/.test(line.message)), 10_000, 'the error line')
  t.equal(publisher.published.length, 1)
})

t.test('no topic: events are only marked; a full memory outbox says what it dropped', async t => {
  const store = new MemoryLifecycleStore()
  const logs = captureLogs()
  const outbox = new Outbox({ store, log: logs.logger, maxWaitMs: 3_600_000 })
  t.equal(outbox.hasTopic, false)
  const [event] = await recordedEvents(store, 'job', 1)
  outbox.recorded(event as StoredEvent)
  await eventually(async () => (await store.unpublished('job', 10)).length === 0, 10_000, 'marked without a topic')
  outbox.dropped(event as StoredEvent)
  t.ok(logs.lines.some(line => line.severity === 'ERROR' && /outbox in memory is full/.test(line.message)))
})

t.test('a Pub/Sub message: CloudEvents binary mode, the Run as data; an over-long tenant is left out', async t => {
  const store = new MemoryLifecycleStore()
  const record = { ...recordOf('echo'), tenant: 'acme' }
  await store.begin(record)
  const started = await recordStart(store, record, 'echo-abcde') as StoredEvent
  const message = pubsubMessage(started, '//run.googleapis.com/projects/p/locations/r/services/jobgate')
  t.same(message.attributes, {
    'ce-specversion': '1.0',
    'ce-type': 'jobgate.run.started',
    'ce-id': 'jobs/echo/runs/echo-abcde/started',
    'ce-source': '//run.googleapis.com/projects/p/locations/r/services/jobgate',
    'ce-subject': 'jobs/echo/runs/echo-abcde',
    'ce-time': started.time,
    'content-type': 'application/json',
    'jobgate-job': 'echo',
    'jobgate-tenant': 'acme'
  })
  t.match(JSON.parse(Buffer.from(message.data, 'base64').toString()), { name: 'echo-abcde', job: 'echo', state: 'PENDING' })
  const long = pubsubMessage({ ...started, tenant: 't'.repeat(1025) }, 'src')
  t.equal(long.attributes['jobgate-tenant'], undefined, 'a value Pub/Sub cannot hold is not cut: it is left out')
  t.equal(topicProblem('projects/my-project/topics/run-events'), undefined)
})

t.test('PubsubPublisher: one topics.publish per batch through jobgate\'s Google HTTP layer; a refusal throws', async t => {
  const api = new MockGoogleApi()
  const http = new GoogleHttp({ tokens: new FakeTokenSource(), dispatcher: api.dispatcher, sleep: async () => {} })
  t.teardown(async () => { await http.close(); await api.close() })
  const store = new MemoryLifecycleStore()
  const events = await recordedEvents(store, 'echo', 2)
  const record = recordOf('echo')
  await store.begin(record)
  events.push(await recordEnd(store, record, 'echo-end') as StoredEvent)
  const publisher = new PubsubPublisher(http, 'https://pubsub.googleapis.com', 'projects/p/topics/run-events', 'src')
  api.answer('https://pubsub.googleapis.com', { status: 200, body: { messageIds: ['1', '2', '3'] } }, { status: 403, body: { error: { code: 403, status: 'PERMISSION_DENIED', message: 'no' } } })
  await publisher.publish(events)
  t.equal(api.requests.length, 1, 'one request for three events')
  t.equal(api.requests[0]?.path, '/v1/projects/p/topics/run-events:publish')
  t.equal(JSON.parse(api.requests[0]?.body ?? '{}').messages.length, 3)
  await publisher.publish([])
  t.equal(api.requests.length, 1, 'nothing to publish: no request')
  await t.rejects(publisher.publish(events), /no/)
})
