import t from 'tap'
import fc from 'fast-check'
import { canonicalJson, fingerprint, idempotencyKeyProblem, scopedKey } from '../../api/idempotency/index.js'

/** The same JSON value with the keys of every object in a different order. */
function reordered (value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((item, i) => reordered(item, seed + i))
  if (typeof value !== 'object' || value === null) return value
  const entries = Object.entries(value)
  const shuffled = entries.map((entry, i) => ({ entry, rank: Math.sin(seed * 7919 + i * 104729) })).sort((a, b) => a.rank - b.rank)
  return Object.fromEntries(shuffled.map(({ entry: [k, v] }, i) => [k, reordered(v, seed + i + 1)]))
}

t.test('key order never changes the fingerprint', async t => {
  fc.assert(
    fc.property(fc.jsonValue(), fc.integer(), (value, seed) => fingerprint(reordered(value, seed)) === fingerprint(value)),
    { numRuns: 300 }
  )
  t.equal(fingerprint({ env: { B: '2', A: '1' }, args: ['x'] }), fingerprint({ args: ['x'], env: { A: '1', B: '2' } }))
})

t.test('different content gives a different fingerprint', async t => {
  fc.assert(fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
    fc.pre(canonicalJson(a) !== canonicalJson(b))
    return fingerprint(a) !== fingerprint(b)
  }), { numRuns: 300 })
  t.not(fingerprint({ args: ['a', 'b'] }), fingerprint({ args: ['b', 'a'] }), 'array order matters')
  t.not(fingerprint({ taskCount: 1 }), fingerprint({ taskCount: '1' }), 'types matter')
  t.match(fingerprint({}), /^[0-9a-f]{64}$/)
})

t.test('canonical JSON sorts keys at every depth; an absent body is null', async t => {
  t.equal(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: null } }), '{"a":{"c":null,"d":[{"y":2,"z":1}]},"b":1}')
  t.equal(canonicalJson(undefined), 'null')
  t.equal(fingerprint(undefined), fingerprint(null))
  t.equal(canonicalJson({ a: undefined, b: 1 }), '{"b":1}', 'undefined fields are dropped, as JSON does')
})

t.test('scopedKey separates principals and jobs, and is a safe document id', async t => {
  const key = scopedKey('user:alice', 'echo', 'k-1')
  t.match(key, /^[0-9a-f]{64}$/)
  t.equal(scopedKey('user:alice', 'echo', 'k-1'), key, 'stable')
  t.not(scopedKey('user:bob', 'echo', 'k-1'), key, 'per principal')
  t.not(scopedKey('user:alice', 'other', 'k-1'), key, 'per job')
  t.not(scopedKey('a', 'bc', 'd'), scopedKey('ab', 'c', 'd'), 'parts cannot run into each other')
  t.match(scopedKey('p', 'j', '../../x/y'), /^[0-9a-f]{64}$/, 'slashes in the key are harmless')
})

t.test('Idempotency-Key validation', async t => {
  for (const good of ['a', 'x'.repeat(255), 'run 2026-11-23 #1', '~!@#$%^&*()_+{}|:"<>?']) t.equal(idempotencyKeyProblem(good), undefined, JSON.stringify(good))
  for (const bad of ['', 'x'.repeat(256), 'caf\u00e9', 'tab\there', 'line\nbreak', '\u0000']) {
    t.match(idempotencyKeyProblem(bad), /^Idempotency-Key: must be 1 to 255 printable ASCII characters$/, JSON.stringify(bad))
  }
  t.match(idempotencyKeyProblem(['a', 'b']), /must be given once/)
  t.match(idempotencyKeyProblem(undefined), /must be given once/)
})
