import t from 'tap'
import fc from 'fast-check'
import { shard } from '../../job/shard.js'

t.test('every item is owned by exactly one task', async t => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 1, max: 300 }), (total, count) => {
    const owners = new Array<number>(total).fill(0)
    let previousEnd = 0
    for (let index = 0; index < count; index++) {
      const { start, end } = shard(total, index, count)
      if (start !== previousEnd || end < start) return false
      for (let i = start; i < end; i++) owners[i] = (owners[i] ?? 0) + 1
      previousEnd = end
    }
    return previousEnd === total && owners.every(n => n === 1)
  }), { numRuns: 500 })
  t.pass('property held')
})

t.test('slices are balanced, and tasks past total get nothing', async t => {
  t.same(shard(10, 0, 3), { start: 0, end: 4 })
  t.same(shard(10, 1, 3), { start: 4, end: 7 })
  t.same(shard(10, 2, 3), { start: 7, end: 10 })
  t.same(shard(2, 4, 5), { start: 2, end: 2 })
  t.same(shard(0, 0, 1), { start: 0, end: 0 })
})

t.test('rejects bad arguments', async t => {
  t.throws(() => shard(-1, 0, 1), RangeError)
  t.throws(() => shard(1.5, 0, 1), RangeError)
  t.throws(() => shard(10, 0, 0), RangeError)
  t.throws(() => shard(10, 3, 3), RangeError)
  t.throws(() => shard(10, -1, 3), RangeError)
})
