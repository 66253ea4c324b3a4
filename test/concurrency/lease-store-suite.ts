/** LeaseStore scenarios every store must pass; run by the memory and the Firestore test files. */
import { randomUUID } from 'node:crypto'
import type { Test } from 'tap'
import type { Lease, LeaseStore } from '../../api/concurrency/lease-store.js'

export const leaseOf = (id: string, expiresAt = Date.now() + 60_000): Lease => ({ id, takenAt: Date.now(), expiresAt })

/** Runs the suite with two stores standing for two API instances (the same one for the memory store). */
export function leaseStoreSuite (t: Test, stores: () => [LeaseStore, LeaseStore]): void {
  t.test('50 concurrent claims of one slot, split over two stores: exactly one wins', async t => {
    const [a, b] = stores()
    const scope = `race-${randomUUID()}`
    const won = await Promise.all(Array.from({ length: 50 }, async (_, i) => await (i % 2 === 0 ? a : b).claim(scope, 0, leaseOf(`l${i}`))))
    t.equal(won.filter(Boolean).length, 1)
    const held = await b.read(scope, 1)
    t.equal(held.length, 1)
    t.equal(held[0]?.lease.id, `l${won.indexOf(true)}`, 'the winner holds the slot')
  })

  t.test('read lists held slots only, with their leases', async t => {
    const [a, b] = stores()
    const scope = `read-${randomUUID()}`
    t.same(await a.read(scope, 3), [])
    await a.claim(scope, 2, leaseOf('two', 5_000))
    await a.claim(scope, 0, leaseOf('zero', 6_000))
    const held = await b.read(scope, 3)
    t.same(held.map(h => [h.slot, h.lease.id, h.lease.expiresAt]), [[0, 'zero', 6_000], [2, 'two', 5_000]])
    t.same(await b.read(scope, 1).then(h => h.map(x => x.slot)), [0], 'only the slots asked for')
  })

  t.test('attach records the run; the holder releases; others cannot', async t => {
    const [a, b] = stores()
    const scope = `attach-${randomUUID()}`
    t.equal(await a.claim(scope, 0, leaseOf('mine')), true)
    t.equal(await b.attach(scope, 0, 'mine', 'echo-abcde', 9_000_000), true)
    const [held] = await a.read(scope, 1)
    t.match(held?.lease, { id: 'mine', run: 'echo-abcde', expiresAt: 9_000_000 })
    t.equal(await b.attach(scope, 0, 'other', 'echo-zzzzz', 1), false, 'another lease id cannot attach')
    await b.release(scope, 0, 'other')
    t.equal((await a.read(scope, 1)).length, 1, 'another lease id cannot release')
    await b.release(scope, 0, 'mine')
    t.same(await a.read(scope, 1), [])
    t.equal(await a.attach(scope, 0, 'mine', 'echo-abcde', 1), false, 'nothing to attach to once released')
    await a.release(scope, 0, 'mine')
    t.pass('releasing an empty slot is fine')
  })

  t.test('evict removes exactly the version read', async t => {
    const [a, b] = stores()
    const scope = `evict-${randomUUID()}`
    await a.claim(scope, 0, leaseOf('first'))
    const [before] = await b.read(scope, 1)
    await a.attach(scope, 0, 'first', 'echo-11111', 9_000_000)
    t.equal(await b.evict(scope, 0, before?.version ?? ''), false, 'the lease changed since it was read')
    const [now] = await b.read(scope, 1)
    t.equal(await b.evict(scope, 0, now?.version ?? ''), true)
    t.same(await a.read(scope, 1), [])
    t.equal(await b.evict(scope, 0, now?.version ?? ''), false, 'already gone')
    t.equal(await a.claim(scope, 0, leaseOf('second')), true, 'the slot is free again')
  })

  t.test('scopes are independent', async t => {
    const [a] = stores()
    t.equal(await a.claim(`acme-${randomUUID()}`, 0, leaseOf('x')), true)
    t.equal(await a.claim(`globex-${randomUUID()}`, 0, leaseOf('y')), true)
  })
}
