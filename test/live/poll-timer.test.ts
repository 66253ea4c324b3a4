import t from 'tap'
import { PollTimer } from '../../api/live/poll-timer.js'

const tick = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

t.test('at most one read pending: re-arming replaces it, and it fires once', async t => {
  let reads = 0
  const poll = new PollTimer(() => { reads++ })
  for (let i = 0; i < 10; i++) poll.after(5)
  t.ok(poll.pending)
  await tick(50)
  t.equal(reads, 1, 'ten arms, one read')
  t.notOk(poll.pending, 'nothing pending once it fired')
})

t.test('cancel drops the pending read; stop also refuses later ones', async t => {
  let reads = 0
  const poll = new PollTimer(() => { reads++ })
  poll.after(5)
  poll.cancel()
  poll.stop()
  poll.after(0)
  poll.afterBudget(0, 0)
  await tick(30)
  t.equal(reads, 0)
  t.ok(poll.stopped)
  t.notOk(poll.pending, 'a stopped loop holds no timer')
})

t.test('a spent budget: the read waits for the budget, and never less than the floor', async t => {
  let reads = 0
  const poll = new PollTimer(() => { reads++ })
  poll.afterBudget(0, 60_000)
  await tick(30)
  t.equal(reads, 0, 'an empty wait still waits the floor')
  t.ok(poll.pending)
  poll.afterBudget(1, 1)
  await tick(30)
  t.equal(reads, 1, 'the re-armed, shorter wait replaced the long one')
  poll.stop()
})
