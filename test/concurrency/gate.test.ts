/** The gate's decisions, on the memory store with a hand-made view of Cloud Run and a fake clock. */
import t from 'tap'
import { ConcurrencyGate, type AdmitOptions } from '../../api/concurrency/gate.js'
import { MemoryLeaseStore } from '../../api/concurrency/memory-lease-store.js'
import type { ConcurrencyRule } from '../../api/concurrency/rule.js'
import type { ScopeView } from '../../api/concurrency/scope-view.js'

const forbid = (maxRunning = 1): ConcurrencyRule => ({ policy: 'Forbid', maxRunning, scope: 'job', onConflict: 'retry' })
const replace = (maxRunning = 1): ConcurrencyRule => ({ policy: 'Replace', maxRunning, scope: 'job', onConflict: 'retry' })

/** Cloud Run's list: `running` (oldest first) and `ended` runs. */
function view (running: string[] = [], ended: string[] = []): ScopeView {
  return {
    running: running.map((name, i) => ({ name, createTime: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString() })),
    listed: new Set([...running, ...ended])
  }
}

interface Setup { gate: ConcurrencyGate, store: MemoryLeaseStore, clock: { now: number }, options: AdmitOptions, cancelled: string[][] }

function setup (): Setup {
  const clock = { now: 1_000_000 }
  const store = new MemoryLeaseStore()
  const cancelled: string[][] = []
  return {
    gate: new ConcurrencyGate(store, () => clock.now),
    store,
    clock,
    cancelled,
    options: {
      pendingMs: 120_000,
      cancel: async runs => {
        cancelled.push(runs)
      }
    }
  }
}

t.test('Forbid: a start in flight, then its run, block the next start until Cloud Run lists the run as ended', async t => {
  const { gate, options } = setup()
  const first = await gate.admit('s', forbid(), view(), options)
  if (!first.admitted) throw new Error('first start refused')
  t.same(await gate.admit('s', forbid(), view(), options), { admitted: false, running: [], starting: 1 }, 'the start in flight counts')
  t.equal(await gate.started(first.ticket, 'echo-1', first.ticket.takenAt + 3_600_000), true)
  t.same(await gate.admit('s', forbid(), view(), options), { admitted: false, running: ['echo-1'], starting: 0 }, 'a run the list does not show yet still counts')
  t.same(await gate.admit('s', forbid(), view(['echo-1']), options), { admitted: false, running: ['echo-1'], starting: 0 }, 'listed as running: counted once')
  t.match(await gate.admit('s', forbid(), view([], ['echo-1']), options), { admitted: true, replaced: [] }, 'listed as ended: the lease ends')
})

t.test('Forbid: runs started outside jobgate count; maxRunning allows that many', async t => {
  const { gate, options } = setup()
  t.same(await gate.admit('s', forbid(), view(['gcloud-run']), options), { admitted: false, running: ['gcloud-run'], starting: 0 })
  t.match(await gate.admit('s', forbid(2), view(['gcloud-run']), options), { admitted: true })
  t.same(await gate.admit('s', forbid(2), view(['gcloud-run']), options), { admitted: false, running: ['gcloud-run'], starting: 1 })
})

t.test('a lease lapses: a start that never reported back after pendingMs, a run after its expiry', async t => {
  const { gate, clock, options } = setup()
  const crashed = await gate.admit('s', forbid(), view(), options)
  t.equal(crashed.admitted, true)
  clock.now += 119_999
  t.equal((await gate.admit('s', forbid(), view(), options)).admitted, false)
  clock.now += 1
  const next = await gate.admit('s', forbid(), view(), options)
  if (!next.admitted) throw new Error('lease did not lapse')
  await gate.started(next.ticket, 'echo-2', clock.now + 3_600_000)
  clock.now += 3_600_000
  t.equal((await gate.admit('s', forbid(), view(), options)).admitted, true, 'a crashed instance cannot block the scope for ever')
})

t.test('failed() frees the slot at once', async t => {
  const { gate, options } = setup()
  const first = await gate.admit('s', forbid(), view(), options)
  if (!first.admitted) throw new Error('refused')
  await gate.failed(first.ticket)
  t.equal((await gate.admit('s', forbid(), view(), options)).admitted, true)
})

t.test('Replace cancels exactly the running run, then takes its slot', async t => {
  const { gate, options, cancelled } = setup()
  const first = await gate.admit('s', replace(), view(), options)
  if (!first.admitted) throw new Error('refused')
  await gate.started(first.ticket, 'echo-old', first.ticket.takenAt + 3_600_000)
  const second = await gate.admit('s', replace(), view(['echo-old']), options)
  t.match(second, { admitted: true, replaced: ['echo-old'] })
  t.same(cancelled, [['echo-old']])
})

t.test('Replace with maxRunning 2 and 3 running cancels the two oldest', async t => {
  const { gate, options, cancelled } = setup()
  t.match(await gate.admit('s', replace(2), view(['a', 'b', 'c']), options), { admitted: true, replaced: ['a', 'b'] })
  t.same(cancelled, [['a', 'b']])
})

t.test('Replace refuses while another start is in flight (it cannot be cancelled) and cancels nothing', async t => {
  const { gate, options, cancelled } = setup()
  t.equal((await gate.admit('s', replace(), view(), options)).admitted, true)
  t.same(await gate.admit('s', replace(), view(), options), { admitted: false, running: [], starting: 1 })
  t.same(cancelled, [])
})

t.test('a slot lost to another start is retried, then refused', async t => {
  const { options } = setup()
  const busy = new MemoryLeaseStore()
  busy.claim = async () => false // every claim loses, as against a faster instance
  const gate = new ConcurrencyGate(busy)
  t.same(await gate.admit('s', forbid(), view(), options), { admitted: false, running: [], starting: 0 })
})

t.test('Replace that loses the slot after cancelling does not cancel again', async t => {
  const { options, cancelled } = setup()
  const busy = new MemoryLeaseStore()
  busy.claim = async () => false
  const gate = new ConcurrencyGate(busy)
  t.match(await gate.admit('s', replace(), view(['old']), options), { admitted: false, running: ['old'] })
  t.same(cancelled, [['old']], 'one cancel round only')
})

t.test('scopes do not see each other\'s leases', async t => {
  const { gate, options } = setup()
  t.equal((await gate.admit('["echo","acme"]', forbid(), view(), options)).admitted, true)
  t.equal((await gate.admit('["echo","globex"]', forbid(), view(), options)).admitted, true)
})
