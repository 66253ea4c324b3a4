import t from 'tap'
import { FinishedCache, jsonBytes } from '../../api/live/finished-cache.js'
import { Backoff } from '../../api/live/poll-schedule.js'
import { RATE_LIMITED_PAUSE_MS, ReadBudget } from '../../api/live/read-budget.js'

const clock = (start = 1_000_000): { now: () => number, advance: (ms: number) => void } => {
  let now = start
  return { now: () => now, advance: ms => { now += ms } }
}

t.test('a burst of a quarter of the budget, then the rest spread over the minute: no rolling minute exceeds it', async t => {
  const time = clock()
  const budget = new ReadBudget(30, time)
  let taken = 0
  for (let i = 0; i < 200; i++) if (budget.tryTake()) taken++
  t.equal(taken, 7, 'a burst of 200 reads: 7 go through at once')
  t.equal(budget.refused, 193)
  t.ok(budget.waitMs() > 0 && budget.retryAfterSeconds() >= 1, 'and the rest are told when to come back')
  // Hammer it for three minutes at 10 tries per second: count what passes in every rolling minute.
  const passedAt: number[] = []
  for (let ms = 0; ms < 180_000; ms += 100) {
    time.advance(100)
    if (budget.tryTake()) passedAt.push(time.now())
  }
  t.ok(passedAt.length > 0)
  for (const start of passedAt) {
    const inWindow = passedAt.filter(at => at >= start && at < start + 60_000).length
    if (inWindow > 30) { t.fail(`${inWindow} reads in the minute from ${start}`); break }
  }
  t.ok(passedAt.length >= 60, `sustains about 23 a minute (${passedAt.length} in 3 minutes)`)
})

t.test('an upstream 429 closes the budget for its Retry-After, or a doubling pause without one', async t => {
  const time = clock()
  const budget = new ReadBudget(300, time)
  budget.rateLimited(30)
  t.notOk(budget.tryTake(), 'closed at once')
  t.equal(budget.retryAfterSeconds(), 30)
  time.advance(29_000)
  t.notOk(budget.tryTake(), 'still closed a second before')
  time.advance(1_000)
  t.ok(budget.tryTake(), 'open once the server\'s Retry-After passed')
  budget.succeeded()
  budget.rateLimited(undefined)
  t.equal(budget.waitMs(), RATE_LIMITED_PAUSE_MS.first)
  time.advance(RATE_LIMITED_PAUSE_MS.first)
  budget.rateLimited(undefined)
  t.equal(budget.waitMs(), RATE_LIMITED_PAUSE_MS.first * 2, 'a second 429 in a row doubles the pause')
  for (let i = 0; i < 10; i++) budget.rateLimited(undefined)
  t.equal(budget.waitMs(), RATE_LIMITED_PAUSE_MS.max, 'up to a cap')
  budget.succeeded()
  time.advance(RATE_LIMITED_PAUSE_MS.max)
  budget.rateLimited(undefined)
  t.equal(budget.waitMs(), RATE_LIMITED_PAUSE_MS.first, 'a success in between starts from the first pause again')
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

t.test('poll pauses grow while nothing changes and start over on a change', async t => {
  const backoff = new Backoff({ firstMs: 100, growth: 2, maxMs: 500 })
  t.same(
    [backoff.after(false), backoff.after(false), backoff.after(false), backoff.after(false), backoff.after(false)],
    [100, 200, 400, 500, 500]
  )
  t.equal(backoff.after(true), 100)
})
