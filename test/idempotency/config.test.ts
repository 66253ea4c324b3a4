import t from 'tap'
import { ConfigError } from '../../api/config-error.js'
import { createIdempotencyStore, loadIdempotencyConfig, MemoryStore } from '../../api/idempotency/index.js'
import { statusOf } from '../../api/idempotency/firestore-store.js'

t.test('defaults', async t => {
  t.same(loadIdempotencyConfig({}), {
    store: 'memory', collection: 'jobgate-idempotency', database: '(default)', ttlMs: 86_400_000, staleMs: 120_000, waitMs: 10_000, maxEntries: 10_000
  })
  t.same(loadIdempotencyConfig({ JOBGATE_IDEMPOTENCY: ' ', JOBGATE_IDEMPOTENCY_TTL_SECONDS: '' }).store, 'memory', 'blank means default')
})

t.test('every variable is read', async t => {
  t.same(loadIdempotencyConfig({
    JOBGATE_IDEMPOTENCY: 'firestore',
    JOBGATE_IDEMPOTENCY_COLLECTION: 'keys',
    JOBGATE_FIRESTORE_DATABASE: 'jobgate-state',
    JOBGATE_IDEMPOTENCY_TTL_SECONDS: '3600',
    JOBGATE_IDEMPOTENCY_STALE_SECONDS: '300',
    JOBGATE_IDEMPOTENCY_WAIT_SECONDS: '0',
    JOBGATE_IDEMPOTENCY_MAX_ENTRIES: '50'
  }), { store: 'firestore', collection: 'keys', database: 'jobgate-state', ttlMs: 3_600_000, staleMs: 300_000, waitMs: 0, maxEntries: 50 })
})

t.test('bad values throw ConfigError naming the variable', async t => {
  const cases: Array<[string, string, RegExp]> = [
    ['JOBGATE_IDEMPOTENCY', 'redis', /must be "memory" or "firestore", not "redis"/],
    ['JOBGATE_IDEMPOTENCY_COLLECTION', 'a/b', /cannot contain "\/"/],
    ['JOBGATE_IDEMPOTENCY_COLLECTION', '..', /reserved/],
    ['JOBGATE_IDEMPOTENCY_COLLECTION', '__keys__', /reserved/],
    ['JOBGATE_IDEMPOTENCY_COLLECTION', 'x'.repeat(1501), /1500 bytes/],
    ['JOBGATE_FIRESTORE_DATABASE', 'Jobgate', /must be \(default\) or 4-63 characters a-z, 0-9, - starting with a letter, not "Jobgate"/],
    ['JOBGATE_FIRESTORE_DATABASE', 'db', /4-63 characters/],
    ['JOBGATE_FIRESTORE_DATABASE', 'state-', /4-63 characters/],
    ['JOBGATE_IDEMPOTENCY_TTL_SECONDS', '0', /whole number ≥ 1/],
    ['JOBGATE_IDEMPOTENCY_TTL_SECONDS', '1.5', /whole number/],
    ['JOBGATE_IDEMPOTENCY_STALE_SECONDS', '-1', /whole number/],
    ['JOBGATE_IDEMPOTENCY_WAIT_SECONDS', 'ten', /whole number ≥ 0/],
    ['JOBGATE_IDEMPOTENCY_MAX_ENTRIES', '99999999999999999999', /whole number/]
  ]
  for (const [variable, value, problem] of cases) {
    t.throws(() => loadIdempotencyConfig({ [variable]: value }), { name: 'ConfigError', variable, message: problem }, `${variable}=${value.slice(0, 20)}`)
  }
  t.throws(() => loadIdempotencyConfig({ JOBGATE_IDEMPOTENCY: 'x' }), ConfigError)
  t.throws(() => loadIdempotencyConfig({ JOBGATE_IDEMPOTENCY: 'x' }), { message: /^JOBGATE_IDEMPOTENCY: / }, 'one line starting with the variable')
})

t.test('the memory store is the default and honours maxEntries', async t => {
  const store = await createIdempotencyStore(loadIdempotencyConfig({ JOBGATE_IDEMPOTENCY_MAX_ENTRIES: '7' }))
  t.ok(store instanceof MemoryStore)
  t.equal((store as MemoryStore).maxEntries, 7)
})

t.test('the Firestore client library is not loaded unless selected', async t => {
  await createIdempotencyStore(loadIdempotencyConfig({}))
  const loaded = Object.keys((await import('node:module')).createRequire(import.meta.url).cache)
  t.notOk(loaded.some(path => path.includes('@google-cloud/firestore')), 'no @google-cloud/firestore module in the require cache')
})

t.test('Firestore error statuses are read from gRPC codes and from REST bodies', async t => {
  t.equal(statusOf({ code: 6, message: '6 ALREADY_EXISTS: entity already exists' }), 'ALREADY_EXISTS')
  t.equal(statusOf({ code: 9 }), 'FAILED_PRECONDITION')
  t.equal(statusOf({ code: 400, message: '{"error":{"code":400,"message":"the stored version…","status":"FAILED_PRECONDITION"}}' }), 'FAILED_PRECONDITION')
  t.equal(statusOf({ code: 409, message: '{"error":{"code":409,"status":"ALREADY_EXISTS"}}' }), 'ALREADY_EXISTS')
  t.equal(statusOf({ code: 500, message: 'boom' }), undefined)
  t.equal(statusOf(undefined), undefined)
})
