import { startPubsubEmulator } from '../../test/helpers/gcloud-emulators.js'
import { pubsubRest, type PubsubRest } from '../../test/events/pubsub-rest.js'
import type { Row, Scenario } from '../scenario.js'
import { deliver, DeliveryLedger, recordingProxy } from '../lib/deliveries.js'
import { envValue, listCalls, runCalls, sleepingJobs, waitUntil } from '../lib/emulated-runs.js'
import { jobgateEnv, SERVER, spawnServer } from '../lib/jobgate.js'
import { CLOUD_RUN_MEMORY, memoryLimit, type MemoryLimit } from '../lib/memory-limit.js'
import { rssBytes } from '../lib/proc.js'
import { median, mib, ms, p99 } from '../lib/stats.js'

const MAX_RUNNING = 100
/** Fast jobs: each run is the emulator's 1 s timer, so the drain measures admission, not the runs. */
const RUN_SECONDS = 1
/** The direct sender's requests in flight: Pub/Sub pushes a backlog with many more at once than its emulator does (2). */
const IN_FLIGHT = 50
/** Pub/Sub redelivers what was not acknowledged within the ack deadline (10 s here), after the retry policy's backoff (1–2 s). */
const REDELIVERY_WINDOW_MS = 13_000
const ENV_NAME = 'MESSAGE_ID'

/** Jobgate's catalog: one `Queue` job whose Pub/Sub mapping puts the message id in the run's env (how runs are told apart). */
const catalog = (job: string): string => JSON.stringify({
  jobs: {
    [job]: {
      env: { allow: [ENV_NAME] },
      pubsub: { env: { [ENV_NAME]: '{message.messageId}' } },
      concurrency: { policy: 'Queue', scope: 'job', maxRunning: MAX_RUNNING }
    }
  }
})

/** A push request's body exactly as Pub/Sub (and its emulator) sends it: wrapped, with the snake_case duplicates. */
function pushEnvelope (subscription: string, messageId: string, n: number): string {
  const publishTime = new Date().toISOString()
  const data = Buffer.from(JSON.stringify({ n })).toString('base64')
  return JSON.stringify({
    subscription,
    message: { publishTime, data, publish_time: publishTime, messageId, attributes: {}, message_id: messageId }
  })
}

/** The keys (message ids) a sender sent, each acknowledged or given up on; `stop` ends what still listens for redeliveries. */
interface Sent { keys: string[], stop: () => Promise<void> }

/** One way of sending the burst to jobgate at `url`, writing each delivery and its answer into `ledger`. */
type Sender = (url: string, job: string, ledger: DeliveryLedger) => Promise<Sent>

interface Measured {
  keys: string[]
  ledger: DeliveryLedger
  /** ms from the first delivery sent to the last acknowledged. */
  burstMs: number
  /** Jobgate's CPU (process.cpuUsage, user + system) in the burst, and from its end until every run started, ms. */
  burstCpuMs: number
  drainCpuMs: number
  /** Runs started by the end of the burst (at once, or admitted meanwhile). */
  startedInBurst: number
  /** ms from the burst's end until the last run started; undefined when the deadline passed first. */
  drainMs: number | undefined
  runCalls: number
  /** `executions.list` calls at the emulator: jobgate's reads of Cloud Run. */
  listCalls: number
  /** Keys whose run started exactly once; executions of a key started twice or never sent (none expected). */
  startedOnce: number
  startedTwice: number
  peakRss: number
}

/**
 * Spawns jobgate (its own process, in a Cloud Run instance's memory) against a Cloud Run emulator of its own (no phase
 * lists another's runs), sends the burst, then waits until every run started, and past the redelivery window.
 */
async function measure (memory: MemoryLimit | undefined, job: string, send: Sender): Promise<Measured> {
  const emulator = await sleepingJobs([job], RUN_SECONDS)
  const env = jobgateEnv(emulator.hostPort, { JOBGATE_AUTH: 'none', JOBGATE_ALLOW_UNAUTHENTICATED: 'true', JOBGATE_JOBS: catalog(job) })
  const server = await spawnServer([SERVER], env, { cpuProbe: true, memory })
  const pid = server.child.pid ?? 0
  let peakRss = rssBytes(pid)
  const sampler = setInterval(() => { peakRss = Math.max(peakRss, rssBytes(pid)) }, 200)
  const runsOf = new Map<string, number>()
  const countRuns = (): void => {
    runsOf.clear()
    for (const execution of emulator.executions('bench', job)) {
      const key = envValue(execution, ENV_NAME) ?? ''
      runsOf.set(key, (runsOf.get(key) ?? 0) + 1)
    }
  }
  let sent: Sent | undefined
  try {
    const ledger = new DeliveryLedger()
    const cpuAtStart = await server.cpuMs()
    sent = await send(server.url, job, ledger)
    const { keys } = sent
    const cpuAtBurstEnd = await server.cpuMs()
    const burstEnd = Date.now()
    countRuns()
    const startedInBurst = runsOf.size
    // Long enough at a tenth of the cap's rate; past it the figures are of what started by then.
    const deadline = Date.now() + Math.max(300_000, (keys.length / MAX_RUNNING) * RUN_SECONDS * 10_000)
    const progress = (): string =>
      `push-burst bench, ${job}: ${runsOf.size} of ${keys.length} runs started ${s(Date.now() - burstEnd)} after the burst`
    const drained = await waitUntil(() => { countRuns(); return keys.every(key => runsOf.has(key)) }, deadline, progress, 200)
    const cpuAtDrainEnd = await server.cpuMs()
    const drainMs = drained ? Date.now() - burstEnd : undefined
    // A delivery answered late comes again after the ack deadline: deliveries are counted once that has passed.
    await waitUntil(() => Date.now() >= burstEnd + REDELIVERY_WINDOW_MS, Infinity, () => '')
    countRuns()
    const asked = new Set(keys)
    return {
      keys,
      ledger,
      burstMs: ledger.lastAckAt - ledger.firstSentAt,
      burstCpuMs: cpuAtBurstEnd - cpuAtStart,
      drainCpuMs: cpuAtDrainEnd - cpuAtBurstEnd,
      startedInBurst,
      drainMs,
      runCalls: runCalls(emulator, job),
      listCalls: listCalls(emulator),
      startedOnce: keys.filter(key => runsOf.get(key) === 1).length,
      startedTwice: [...runsOf].filter(([key, n]) => n > 1 || !asked.has(key)).length,
      peakRss
    }
  } finally {
    clearInterval(sampler)
    await sent?.stop()
    await server.stop()
    await emulator.close()
  }
}

/** Through the gcloud Pub/Sub emulator: a topic, a push subscription to jobgate (through a recording proxy), the burst published. */
function throughEmulator (rest: PubsubRest, size: number): Sender {
  return async (url, job, ledger) => {
    const proxy = await recordingProxy(url, ledger, body => (JSON.parse(body) as { message: { messageId: string } }).message.messageId)
    const stop = async (): Promise<void> => {
      await rest.send('DELETE', `/subscriptions/${job}`).catch(() => {})
      await proxy.close()
    }
    try {
      await rest.createTopic(job)
      await rest.createPushSubscription(job, job, `${proxy.url}/v1/push/pubsub/${job}`)
      const keys: string[] = []
      // Pub/Sub takes at most 1,000 messages per publish call.
      for (let at = 0; at < size; at += 1_000) {
        keys.push(...await rest.publish(job, Array.from({ length: Math.min(1_000, size - at) }, (_, i) => ({ data: { n: at + i } }))))
      }
      // Generous: a start that reads Cloud Run's list of the job's runs answers in about 100 ms here; the emulator pushes 2 at once.
      const deadline = Date.now() + Math.max(300_000, size * 200)
      const progress = (): string => `push-burst bench, ${job}: ${ledger.acknowledged.size} of ${size} deliveries acknowledged`
      await waitUntil(() => keys.every(key => ledger.acknowledged.has(key)), deadline, progress, 50)
      return { keys, stop }
    } catch (err) {
      await stop()
      throw err
    }
  }
}

/** Straight from a client with IN_FLIGHT requests in flight: push envelopes, or (`rest`) plain run requests. */
function direct (size: number, rest: boolean): Sender {
  return async (url, job, ledger) => {
    const keys = Array.from({ length: size }, (_, n) => `${job}-${n}`)
    const subscription = `projects/bench/subscriptions/${job}`
    await deliver(url, keys.map((key, n) => rest
      ? { key, path: `/v1/jobs/${job}/runs`, body: JSON.stringify({ env: { [ENV_NAME]: key } }) }
      : { key, path: `/v1/push/pubsub/${job}`, body: pushEnvelope(subscription, key, n) }), { inFlight: IN_FLIGHT, ledger })
    return { keys, stop: async () => {} }
  }
}

const us = (ms: number): string => `${Math.round(ms * 1000)} µs`
const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`
const count = (n: number): string => n.toLocaleString('en-US')

interface CpuFigures {
  /** Per delivery in the burst (with the starts made meanwhile). */
  burst: number
  /** Per run started after the burst; undefined when none was left to start. */
  drain?: number
  /** The burst less its starts at the drain's cost: accepting alone. */
  acceptOnly?: number
  /** Everything, per message. */
  total: number
}

function cpu (m: Measured): CpuFigures {
  const n = m.keys.length
  const total = (m.burstCpuMs + m.drainCpuMs) / n
  // Fewer than a cap's worth left after the burst: the drain's cost per run would be mostly the wait, not admissions.
  if (n - m.startedInBurst < MAX_RUNNING) return { burst: m.burstCpuMs / n, total }
  const drain = m.drainCpuMs / (n - m.startedInBurst)
  return { burst: m.burstCpuMs / n, drain, acceptOnly: (m.burstCpuMs - drain * m.startedInBurst) / n, total }
}

/** The phase's rows; beside each CPU figure, the plain POST's (`anchor`) from the same run. */
function rows (label: string, m: Measured, anchor?: Measured): Row[] {
  const n = m.keys.length
  const { ledger } = m
  const mine = cpu(m)
  const theirs = anchor === undefined ? undefined : cpu(anchor)
  const cpuRow = (measure: string, pick: (c: CpuFigures) => number | undefined): Row[] => {
    const value = pick(mine)
    const other = theirs === undefined ? undefined : pick(theirs)
    if (value === undefined) return []
    return [{
      measure: `${label}: ${measure}`,
      value: us(value),
      ...(other !== undefined && { anchor: `plain POST …/runs: ${us(other)} (${(value / other).toFixed(2)}×)` })
    }]
  }
  const drained = n - m.startedInBurst
  return [
    {
      measure: `${label}: deliveries accepted`,
      value: `${count(n)} in ${s(m.burstMs)}: ${count(Math.round(n / (m.burstMs / 1000)))}/s`,
      anchor: `answers ${JSON.stringify(ledger.statuses)}; at most ${ledger.peakInFlight} in flight`
    },
    {
      measure: `${label}: time to answer a delivery`,
      value: `median ${ms(median(ledger.answerMs))}, p99 ${ms(p99(ledger.answerMs))}, max ${ms(Math.max(...ledger.answerMs))}`,
      anchor: 'Pub/Sub\'s ack deadline: 10 s (later is a redelivery)'
    },
    {
      measure: `${label}: deliveries per message (more than 1: a redelivery)`,
      value: `${count(ledger.deliveries)} for ${count(n)} messages, ${ledger.redelivered} redelivered`,
      goal: { text: 'every delivery acknowledged (2xx) the first time', met: ledger.acknowledged.size === n && ledger.deliveries === n }
    },
    {
      measure: `${label}: \`:run\` calls at the emulator / messages whose run started exactly once`,
      value: `${count(m.runCalls)} / ${count(m.startedOnce)}${m.startedTwice > 0 ? `; ${m.startedTwice} started twice or unasked` : ''}`,
      goal: { text: 'each message starts one run', met: m.runCalls === n && m.startedOnce === n && m.startedTwice === 0 }
    },
    {
      measure: `${label}: \`executions.list\` calls at the emulator (jobgate reading Cloud Run)`,
      value: `${count(m.listCalls)}: ${(m.listCalls / n).toFixed(2)} per message`,
      ...(anchor !== undefined && { anchor: `plain POST …/runs: ${(anchor.listCalls / anchor.keys.length).toFixed(2)} per message` })
    },
    ...cpuRow(`jobgate CPU per delivery in the burst (${count(m.startedInBurst)} runs started meanwhile)`, c => c.burst),
    ...cpuRow('jobgate CPU per delivery, accepting only (the burst less its starts at the drain\'s cost)', c => c.acceptOnly),
    ...cpuRow(`jobgate CPU per run admitted after the burst (${count(drained)} runs)`, c => c.drain),
    ...cpuRow('jobgate CPU per message, end to end', c => c.total),
    {
      measure: `${label}: time to drain (last delivery acknowledged → last run started)`,
      value: m.drainMs === undefined ? '**not drained by the deadline**' : s(m.drainMs),
      ...(m.drainMs !== undefined && drained >= MAX_RUNNING && {
        anchor: `${(drained / (m.drainMs / 1000)).toFixed(1)} starts/s; the cap's need: ${MAX_RUNNING / RUN_SECONDS}/s`
      })
    },
    { measure: `${label}: jobgate's peak RSS`, value: mib(m.peakRss) }
  ]
}

export const scenario: Scenario = {
  name: 'push-burst',
  about: `a burst of Pub/Sub push deliveries (10,000) to a Queue job (maxRunning ${MAX_RUNNING}), through the Pub/Sub emulator ` +
    `and from ${IN_FLIGHT} concurrent senders, beside as many plain POST …/runs: acknowledged once, one run per message, ` +
    'jobgate\'s CPU per delivery, RSS',
  async run ({ samples }) {
    const size = Number(process.env.JOBGATE_BENCH_PUSH_DELIVERIES ?? (samples < 10 ? 1_000 : 10_000))
    const memory = memoryLimit(CLOUD_RUN_MEMORY)
    const teardowns: Array<() => unknown> = []
    try {
      const pubsub = await startPubsubEmulator({ teardown: fn => { teardowns.push(fn) } })
      const posted = await measure(memory, 'burst-posted', direct(size, true))
      const pushed = await measure(memory, 'burst-direct', direct(size, false))
      const emulated = await measure(memory, 'burst-emulated', throughEmulator(pubsubRest(pubsub.hostPort, 'bench'), size))
      const where = memory === undefined ? 'no memory limit' : memory.about
      return [
        ...rows(`plain POST /v1/jobs/{job}/runs, ${IN_FLIGHT} in flight`, posted),
        ...rows(`push envelopes POSTed, ${IN_FLIGHT} in flight`, pushed, posted),
        ...rows('Pub/Sub emulator push subscription', emulated, posted),
        {
          measure: 'setting',
          value: `jobgate in its own process (${where}), runs of ${RUN_SECONDS} s, \`Queue\` maxRunning ${MAX_RUNNING}, JOBGATE_AUTH=none`
        }
      ]
    } finally {
      for (const teardown of teardowns.reverse()) await teardown()
      memory?.remove()
    }
  }
}
