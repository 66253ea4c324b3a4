/** The catalog's `pubsub` mapping: templates, filter, message → run request, and the start-up checks. */
import t from 'tap'
import { parseCatalog } from '../../api/catalog.js'
import { ConfigError } from '../../api/config-error.js'
import { loadConfig } from '../../api/config.js'
import { compilePubsubMapping, mapMessage, matchFilter, MessageMappingError, runRequestOf } from '../../api/events/pubsub.js'
import { parseTemplate, placeholderText } from '../../api/events/template.js'
import { runRequestProblem } from '../../api/runs/request-check.js'
import type { PushMessage } from '../../api/schemas/pubsub.js'

const message = (attributes: Record<string, string>, data?: unknown): PushMessage => ({
  messageId: '4242',
  publishTime: '2026-11-23T10:00:00Z',
  attributes,
  ...(data !== undefined && { data: Buffer.from(typeof data === 'string' ? data : JSON.stringify(data)).toString('base64') })
})

t.test('templates: placeholders, literal text and escaped braces', async t => {
  t.same(parseTemplate('plain').parts, ['plain'])
  t.same(parseTemplate('').parts, [])
  t.same(parseTemplate('gs://{attributes.bucketId}/{data.a.b}').parts, [
    'gs://', { source: 'attributes', name: 'bucketId' }, '/', { source: 'data', path: ['a', 'b'] }
  ])
  t.same(parseTemplate('{attributes.goog.dotted}').parts, [{ source: 'attributes', name: 'goog.dotted' }], 'attribute names may contain dots')
  t.same(parseTemplate('{{literal}} {message.messageId}@{message.publishTime}').parts, [
    '{literal} ', { source: 'message', field: 'messageId' }, '@', { source: 'message', field: 'publishTime' }
  ])
  for (const text of ['{attributes.x}', '{data.a.b}', '{message.messageId}']) {
    const [part] = parseTemplate(text).parts
    t.equal(typeof part === 'string' ? part : placeholderText(part!), text)
  }
})

t.test('malformed templates are refused with a reason', async t => {
  const cases: Array<[string, RegExp]> = [
    ['{attributes.x', /unclosed "\{" at position 0/],
    ['a}b', /unmatched "\}" at position 1/],
    ['{a{b}', /"\{" inside a placeholder/],
    ['{attributes}', /names no field/],
    ['{attributes.}', /names no field/],
    ['{data.a..b}', /empty path segment/],
    ['{message.orderingKey}', /is not a placeholder/],
    ['{env.HOME}', /is not a placeholder/]
  ]
  for (const [text, reason] of cases) t.throws(() => parseTemplate(text), reason, text)
})

t.test('a message becomes env and args; values are strings, numbers or booleans', async t => {
  const mapping = compilePubsubMapping({
    env: { BUCKET: '{attributes.bucketId}', SIZE: '{data.size}', FLAG: '{data.meta.flag}', ID: '{message.messageId}', AT: '{message.publishTime}' },
    args: ['--object={attributes.objectId}']
  })
  const request = runRequestOf(mapping, message({ bucketId: 'b', objectId: 'o.csv' }, { size: 12, meta: { flag: true } }))
  t.same(request, { env: { BUCKET: 'b', SIZE: '12', FLAG: 'true', ID: '4242', AT: '2026-11-23T10:00:00Z' }, args: ['--object=o.csv'] })
  t.same(runRequestOf(compilePubsubMapping({}), message({})), {}, 'an empty mapping: a run without overrides')
  const noAttributes: PushMessage = { messageId: '1', publishTime: '2026-11-23T10:00:00Z' }
  t.throws(() => runRequestOf(mapping, noAttributes), MessageMappingError)
})

t.test('mapMessage: the request, or the problem; unexpected errors are not swallowed', async t => {
  const mapping = compilePubsubMapping({ env: { NAME: '{data.name}' } })
  t.same(mapMessage(mapping, message({}, { name: 'n' })), { request: { env: { NAME: 'n' } } })
  t.same(mapMessage(mapping, { messageId: '1', publishTime: '2026-11-23T10:00:00Z' }), { problem: '{data.name}: the message has no data' })
  const broken = { messageId: '1', publishTime: '2026-11-23T10:00:00Z', get data (): string { throw new TypeError('boom') } }
  t.throws(() => mapMessage(mapping, broken), TypeError)
})

t.test('mapped values meet the run request check a REST body meets (bounds, NUL), not a check of their own', async t => {
  const mapping = compilePubsubMapping({ env: { BIG: '{data.big}' } })
  const big = runRequestOf(mapping, message({}, { big: 'x'.repeat(40 * 1024) }))
  t.equal(big.env?.BIG?.length, 40 * 1024, 'the mapping renders the value as it is')
  t.equal(runRequestProblem(big), 'env.BIG: value is larger than 32 KiB')
  const argsOnly = compilePubsubMapping({ args: ['{data.big}'] })
  t.equal(runRequestProblem(runRequestOf(argsOnly, message({}, { big: 'x'.repeat(5 * 1024) }))), 'args[0]: larger than 4 KiB')
  t.equal(runRequestProblem(runRequestOf(argsOnly, message({}, { big: 'a\u0000b' }))), 'args[0]: contains a NUL character')
  t.throws(() => runRequestOf(argsOnly, message({}, { big: null })), /no such field/)
})

t.test('filter: every listed attribute must have one of its values', async t => {
  const mapping = compilePubsubMapping({ filter: { eventType: 'OBJECT_FINALIZE', bucketId: ['a', 'b'] } })
  t.same(mapping.filter, { eventType: ['OBJECT_FINALIZE'], bucketId: ['a', 'b'] })
  t.same(matchFilter(mapping, { eventType: 'OBJECT_FINALIZE', bucketId: 'b' }), { matched: true })
  t.match(matchFilter(mapping, { eventType: 'OBJECT_DELETE', bucketId: 'b' }), { matched: false, reason: /eventType=OBJECT_DELETE/ })
  t.match(matchFilter(mapping, { eventType: 'OBJECT_FINALIZE' }), { matched: false, reason: /"bucketId" is absent/ })
  t.same(matchFilter(compilePubsubMapping({}), {}), { matched: true }, 'no filter: every message')
})

t.test('the catalog checks the mapping at start-up', async t => {
  const load = (pubsub: unknown, extra: Record<string, unknown> = {}): unknown =>
    parseCatalog(JSON.stringify({ jobs: { ingest: { ...extra, pubsub } } }), 'JOBGATE_JOBS', { project: 'my-project', region: 'us-central1' })
  const entry = (load({ env: { OBJECT: '{attributes.objectId}' }, filter: { eventType: 'OBJECT_FINALIZE' } }) as Map<string, any>).get('ingest')
  t.same(entry.pubsub.filter, { eventType: ['OBJECT_FINALIZE'] })
  t.throws(() => load({ env: { OBJECT: '{attributes.objectId' } }), new ConfigError('JOBGATE_JOBS', 'job "ingest": pubsub.env.OBJECT: unclosed "{" at position 0'))
  t.throws(() => load({ args: ['{nope}'] }), /job "ingest": pubsub\.args\[0\]: "\{nope\}" names no field/)
  t.throws(() => load({ env: { LD_PRELOAD: '{data.x}' } }), /pubsub\.env\.LD_PRELOAD: protected/)
  t.throws(() => load({ env: { constructor: '{data.x}' } }), /invalid catalog at \/jobs\/ingest\/pubsub\/env/, 'a name that reaches the prototype is no variable name')
  t.throws(() => load({ args: ['{data.x}'] }, { args: { allow: false } }), /pubsub\.args given but the job does not accept args/)
  t.throws(() => load({ topic: 'x' }), /invalid catalog at \/jobs\/ingest\/pubsub/)
  t.throws(() => load({ filter: { eventType: [] } }), ConfigError, 'a filter needs at least one value')
  t.equal((load({}, {}) as Map<string, any>).get('ingest').pubsub.args, undefined)
})

t.test('the idempotency settings are part of the configuration', async t => {
  t.match(loadConfig({ JOBGATE_MODE: 'local' }).idempotency, { store: 'memory', ttlMs: 86_400_000 })
  t.match(loadConfig({ JOBGATE_MODE: 'local', JOBGATE_IDEMPOTENCY: 'firestore', JOBGATE_IDEMPOTENCY_COLLECTION: 'keys' }).idempotency, { store: 'firestore', collection: 'keys' })
  t.throws(() => loadConfig({ JOBGATE_MODE: 'local', JOBGATE_IDEMPOTENCY: 'redis' }), /JOBGATE_IDEMPOTENCY: must be "memory" or "firestore"/)
})
