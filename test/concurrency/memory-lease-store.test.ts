import t from 'tap'
import { MemoryLeaseStore } from '../../api/concurrency/memory-lease-store.js'
import { leaseOf, leaseStoreSuite } from './lease-store-suite.js'

// One process: the "two instances" share one memory store (that is all it can do).
const store = new MemoryLeaseStore()
leaseStoreSuite(t, () => [store, store])

t.test('emptied slots are forgotten (memory stays bounded by live leases)', async t => {
  const own = new MemoryLeaseStore()
  await own.claim('s', 0, leaseOf('a'))
  await own.claim('s', 1, leaseOf('b'))
  t.equal(own.size, 2)
  await own.release('s', 0, 'a')
  const [held] = await own.read('s', 2)
  await own.evict('s', 1, held?.version ?? '')
  t.equal(own.size, 0)
})
