import t from 'tap'
import { FinishedCache, jsonBytes } from '../../api/live/finished-cache.js'
import { NotFoundCache } from '../../api/live/not-found-cache.js'
import { Backoff } from '../../api/live/poll-schedule.js'
import { RATE_LIMITED_PAUSE_MS, ReadBudget } from '../../api/live/read-budget.js'

const clock = (start = 1_000_000): { now: () => number, advance: (ms: number) => void } => {
  let now = start
  return { now: () => now, advance: ms => { now += ms } }
}

/** Reads that pass in every rolling minute of `passedAt`: the most of them. */
const busiestMinute = (passedAt: readonly number[]): number =>
  Math.max(0, ...passedAt.map(start => passedAt.filter(at => at >= start && at < start + 60_000).length))

t.test('one reader: half the burst at once, then three quarters of the budget a minute; no rolling minute exceeds it', async t => {
  const time = clock()
  const budget = new ReadBudget(30, time)
  let taken = 0
  for (let i = 0; i < 200; i++) if (budget.tryTake('a')) taken++
  t.equal(taken, 3, 'a burst of 200 reads: 3 go through at once (half the burst of 7; the rest is kept for a reader who comes)')
  t.equal(budget.refused, 197)
  t.ok(budget.waitMs('a') > 0 && budget.retryAfterSeconds('a') >= 1, 'and the rest are told when to come back')
  // Hammer it for three minutes at 10 tries per second: count what passes in every rolling minute.
  const passedAt: number[] = []
  for (let ms = 0; ms < 180_000; ms += 100) {
    time.advance(100)
    if (budget.tryTake('a')) passedAt.push(time.now())
  }
  t.ok(busiestMinute(passedAt) <= 30, `at most 30 in any minute (${busiestMinute(passedAt)})`)
  t.ok(passedAt.length >= 60, `sustains about 23 a minute (${passedAt.length} in 3 minutes)`)
})

t.test('a budget left unused refills to its burst, not more: the minute after still holds at most the budget', async t => {
  const time = clock()
  const budget = new ReadBudget(30, time)
  time.advance(10 * 60_000)
  const passedAt: number[] = []
  for (let ms = 0; ms < 60_000; ms += 100) {
    for (const reader of ['a', 'b']) if (budget.tryTake(reader)) passedAt.push(time.now())
    time.advance(100)
  }
  t.ok(passedAt.length <= 30, `${passedAt.length} reads in the minute after ten idle ones (at most 30: a burst of 7 and 23 refilled)`)
  t.ok(passedAt.length >= 25, `and close to it: ${passedAt.length}`)
})

t.test('fair shares: a reader within its share is never refused while another hammers; each of two gets at least half', async t => {
  const time = clock()
  const budget = new ReadBudget(60, time)
  const hammered = { taken: 0, refused: 0 }
  const polite = { taken: 0, refused: 0 }
  // The hammer alone first: it takes what it can, down to the reserve.
  for (let i = 0; i < 100; i++) if (budget.tryTake('hammer')) hammered.taken++
  // Then both for five minutes: 20 tries a second from the hammer, one read every 3 s from the other (its share is 45 / 2 a minute).
  for (let ms = 0; ms < 300_000; ms += 50) {
    time.advance(50)
    if (budget.tryTake('hammer')) hammered.taken++
    else hammered.refused++
    if (ms % 3000 === 0) {
      if (budget.tryTake('polite')) polite.taken++
      else polite.refused++
    }
  }
  t.equal(polite.refused, 0, `the polite reader was never refused (${polite.taken} reads)`)
  t.equal(polite.taken, 100)
  t.ok(hammered.refused > 0, 'the hammer was')
  t.ok(hammered.taken >= 5 * 45 / 2, `the hammer still got at least its half: ${hammered.taken} in 5 minutes`)
  t.equal(budget.active, 2)
  time.advance(60_000)
  t.equal(budget.active, 0, 'a reader quiet for a minute takes no share')
})

t.test('a newcomer\'s first reads find the reserve, however hard a lone reader hammered', async t => {
  const time = clock()
  const budget = new ReadBudget(300, time)
  for (let ms = 0; ms < 60_000; ms += 10) {
    time.advance(10)
    budget.tryTake('hammer')
  }
  let first = 0
  for (let i = 0; i < 5; i++) if (budget.tryTake('newcomer')) first++
  t.ok(first >= 1, `the newcomer's first read went through (${first} of a burst of 5)`)
  t.ok(budget.tryTakeAny(['hammer', 'late']), 'a shared loop draws on the share with the most left')
})

t.test('an upstream 429 closes the budget for its Retry-After, or a doubling pause without one', async t => {
  const time = clock()
  const budget = new ReadBudget(300, time)
  budget.rateLimited(30)
  t.notOk(budget.tryTake('a'), 'closed at once')
  t.equal(budget.retryAfterSeconds('a'), 30)
  time.advance(29_000)
  t.notOk(budget.tryTake('a'), 'still closed a second before')
  time.advance(1_000)
  t.ok(budget.tryTake('a'), 'open once the server\'s Retry-After passed')
  budget.succeeded()
  budget.rateLimited(undefined)
  t.equal(budget.waitMs('a'), RATE_LIMITED_PAUSE_MS.first)
  time.advance(RATE_LIMITED_PAUSE_MS.first)
  budget.rateLimited(undefined)
  t.equal(budget.waitMs('a'), RATE_LIMITED_PAUSE_MS.first * 2, 'a second 429 in a row doubles the pause')
  for (let i = 0; i < 10; i++) budget.rateLimited(undefined)
  t.equal(budget.waitMs('a'), RATE_LIMITED_PAUSE_MS.max, 'up to a cap')
  budget.succeeded()
  time.advance(RATE_LIMITED_PAUSE_MS.max)
  budget.rateLimited(undefined)
  t.equal(budget.waitMs('a'), RATE_LIMITED_PAUSE_MS.first, 'a success in between starts from the first pause again')
  t.match(budget.spent('Cloud Run', 'a').toBody(), { error: { code: 429, status: 'RESOURCE_EXHAUSTED', message: /your share of jobgate's Cloud Run read budget \(300 per minute/ } })
})

t.test('a budget below 4 a minute is refused', async t => {
  t.throws(() => new ReadBudget(3), RangeError)
  t.throws(() => new ReadBudget(4.5), RangeError)
})

t.test('the finished cache is bounded by count and by bytes, least recently used first', async t => {
  const cache = new FinishedCache<string>({ maxItems: 3, maxBytes: 100, sizeOf: value => value.length })
  cache.set('a', 'x'.repeat(10))
  cache.set('b', 'x'.repeat(10))
  cache.set('c', 'x'.repeat(10))
  t.equal(cache.get('a'), 'x'.repeat(10), 'a is now the most recently used')
  cache.set('d', 'x'.repeat(10))
  t.equal(cache.get('b'), undefined, 'the fourth item pushed out the least recently used (b)')
  t.same([cache.size, cache.bytes], [3, 30])
  cache.set('e', 'x'.repeat(80))
  t.same([cache.get('c'), cache.size, cache.bytes], [undefined, 3, 100], 'a large item pushes out as many as its bytes need')
  cache.set('huge', 'x'.repeat(101))
  t.equal(cache.get('huge'), undefined, 'larger than the whole bound: not kept')
  cache.set('e', 'short')
  t.equal(cache.get('e'), 'short', 'replacing a key counts its new size only')
  t.equal(cache.bytes, 25)
  cache.delete('nothing')
  t.equal(jsonBytes({ a: 'é' }), 10)
})

t.test('not-found answers are remembered per reader, briefly, and within a bound', async t => {
  const time = clock()
  const cache = new NotFoundCache({ ttlMs: 10_000, maxEntries: 3, now: time.now })
  cache.add('acme', 'echo/echo-zzzzz')
  t.ok(cache.has('acme', 'echo/echo-zzzzz'))
  t.notOk(cache.has('globex', 'echo/echo-zzzzz'), 'another reader was told nothing')
  time.advance(10_000)
  t.notOk(cache.has('acme', 'echo/echo-zzzzz'), 'forgotten after 10 s')
  t.equal(cache.size, 0)
  for (const name of ['a', 'b', 'c', 'd']) cache.add('acme', name)
  t.same([cache.size, cache.has('acme', 'a'), cache.has('acme', 'd')], [3, false, true], 'the oldest goes first')
  cache.add('acme', 'b')
  cache.add('acme', 'e')
  t.ok(cache.has('acme', 'b'), 'one told again is kept as the newest')
})

t.test('poll pauses grow while nothing changes and start over on a change', async t => {
  const backoff = new Backoff({ firstMs: 100, growth: 2, maxMs: 500 })
  t.same(
    [backoff.after(false), backoff.after(false), backoff.after(false), backoff.after(false), backoff.after(false)],
    [100, 200, 400, 500, 500]
  )
  t.equal(backoff.after(true), 100)
})
