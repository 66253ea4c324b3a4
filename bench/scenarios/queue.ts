import { pino } from 'pino'
import { buildApp } from '../../api/app.js'
import { loadConfig } from '../../api/config.js'
import { createServices } from '../../api/services.js'
import type { Row, Scenario } from '../scenario.js'
import { envValue, runCalls, sleepingJobs, waitUntil } from '../lib/emulated-runs.js'
import { median, mib } from '../lib/stats.js'

const SILENT = pino({ level: 'silent' })
const TENANTS = 50
const MAX_RUNNING = 100
/** The ceiling variant's JOBGATE_RUN_STARTS_PER_MINUTE: below what polling admits unbounded on this machine (about 1,300). */
const STARTS_PER_MINUTE = 900

/**
 * One way to run the bench. `runSeconds`: each run sleeps this long; a backlog keeps the cap full only if admission keeps
 * up with runs ending, and a polled end is seen up to a reconciler pass (1 s) late. `startsPerMinute`: a ceiling to hold.
 */
interface Variant { name: string, label: string, signalled: boolean, runSeconds: number, share: number, startsPerMinute?: number }

const VARIANTS: Variant[] = [
  // Ends signalled as in local mode: admission is bounded by jobgate itself.
  { name: 'signalled', label: 'signalled ends', signalled: true, runSeconds: 10, share: 1 },
  // Cloud Run's way: the reconciler lists the job's executions; runs as short as a container's start.
  { name: 'polled', label: 'polled ends', signalled: false, runSeconds: 30, share: 0.1 },
  // Short runs that would start faster than the ceiling allows: admission keeps up with it and never passes it.
  {
    name: 'ceiling',
    label: 'polled, under JOBGATE_RUN_STARTS_PER_MINUTE', signalled: false, runSeconds: 2, share: 0.2, startsPerMinute: STARTS_PER_MINUTE
  }
]

interface Queued { name: string, tenant: string, queuedAt: number }

/**
 * `runs` runs of a Queue job (maxRunning 100, job-wide on a tenant-scoped job) queued by 50 tenants of very
 * different sizes (tenant i queues in proportion to i + 1, the biggest first), against the Cloud Run emulator.
 * Counted: `:run` calls at the emulator (exactly once), running executions sampled while a backlog exists
 * (cap occupancy), each tenant's wait for its first and its last start (fairness), the process's RSS.
 * The variants (VARIANTS) differ in how runs' ends are learnt and how long runs last.
 * Set JOBGATE_BENCH_QUEUE_RUNS for another size (default 10,000, of which each variant runs its share; --quick 2,000), and
 * JOBGATE_BENCH_QUEUE_VARIANTS to run some of them (signalled, polled, ceiling).
 */
async function queueRun (runs: number, variant: Variant): Promise<Row[]> {
  const { signalled, runSeconds } = variant
  const emulator = await sleepingJobs(['fanout'], runSeconds)
  process.env.GCE_METADATA_HOST = emulator.hostPort
  const catalog = {
    jobs: { fanout: { env: { tenantKey: 'TENANT_ID' }, concurrency: { policy: 'Queue', scope: 'job', maxRunning: MAX_RUNNING } } }
  }
  const services = await createServices(loadConfig({
    LOG_LEVEL: 'silent',
    JOBGATE_MODE: 'cloud',
    JOBGATE_AUTH: 'none',
    JOBGATE_ALLOW_UNAUTHENTICATED: 'true',
    GOOGLE_CLOUD_PROJECT: 'bench',
    CLOUD_RUN_API_ENDPOINT: emulator.url,
    CLOUD_LOGGING_API_ENDPOINT: emulator.url,
    JOBGATE_JOBS: JSON.stringify(catalog),
    JOBGATE_RATE_LIMIT: '1000000',
    JOBGATE_MAX_RUNNING_EXECUTIONS: String(10 * MAX_RUNNING),
    // Signalled ends model local mode, whose emulator takes any number of reads.
    ...(signalled && { JOBGATE_RUN_READS_PER_MINUTE: '60000' }),
    ...(variant.startsPerMinute !== undefined && { JOBGATE_RUN_STARTS_PER_MINUTE: String(variant.startsPerMinute) })
  }), { logger: SILENT, ...(signalled && { runEnded: async (entry, name) => await emulator.waitForExecution(name, entry.project) }) })
  const app = await buildApp(services)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
  let peakRss = process.memoryUsage().rss
  try {
    // The biggest tenant first: first in first out would make the small ones wait for all of it.
    const weights = Array.from({ length: TENANTS }, (_, i) => TENANTS - i)
    const total = weights.reduce((a, b) => a + b, 0)
    const plan = weights.flatMap((weight, i) =>
      Array.from({ length: Math.max(1, Math.round(runs * weight / total)) }, () => `t${String(i).padStart(2, '0')}`))
    const queued: Queued[] = []
    const samples: number[] = []
    const fanout = services.config.catalog.get('fanout') as never
    // A sample counts while runs wait in the queue: the cap should then be full.
    const sampler = setInterval(() => {
      void services.lifecycle.runs.queuedRuns(fanout, 1).then(waiting => {
        if (waiting.length > 0) samples.push(emulator.unfinished('bench', 'fanout'))
      })
      peakRss = Math.max(peakRss, process.memoryUsage().rss)
    }, 200)
    const startedAt = Date.now()
    for (let at = 0; at < plan.length; at += 50) {
      await Promise.all(plan.slice(at, at + 50).map(async tenant => {
        const response = await fetch(`${url}/v1/jobs/fanout/runs`, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ env: { TENANT_ID: tenant } })
        })
        const run = await response.json() as { name: string }
        queued.push({ name: run.name, tenant, queuedAt: Date.now() })
      }))
    }
    const submitted = Date.now()
    // Long enough at a tenth of the cap's rate; past it the figures are of what started by then.
    const deadline = Date.now() + Math.max(120_000, (runs / MAX_RUNNING) * runSeconds * 10_000)
    const progress = (): string =>
      `queue bench: ${runCalls(emulator, 'fanout')} of ${queued.length} started after ${Math.round((Date.now() - startedAt) / 1000)} s`
    // Counted from the emulator's request log: converting every execution at each look would stall the loop jobgate runs on.
    await waitUntil(() => runCalls(emulator, 'fanout') >= queued.length, deadline, progress, 2_000)
    clearInterval(sampler)
    const starts = runCalls(emulator, 'fanout')
    // A run's start time: its execution's creation, found by its marker (the queued name) or its name.
    const startOf = new Map<string, number>()
    for (const execution of emulator.executions('bench', 'fanout')) {
      const createdAt = Date.parse(execution.metadata.creationTimestamp)
      for (const key of [envValue(execution, 'JOBGATE_RUN'), execution.metadata.name]) if (key !== undefined) startOf.set(key, createdAt)
    }
    const names = new Set(queued.map(run => run.name))
    const started = queued.filter(run => startOf.has(run.name)).length
    const allStarted = started === queued.length
    const atCap = samples.filter(count => count >= MAX_RUNNING * 0.95).length / Math.max(1, samples.length)
    // Each tenant's waits from its own submissions: the biggest tenants submit first, so the small ones come in late.
    const byTenant = new Map<string, { starts: number[], submits: number[] }>()
    for (const run of queued) {
      const tenant = byTenant.get(run.tenant) ?? { starts: [], submits: [] }
      tenant.starts.push(startOf.get(run.name) ?? Number.NaN)
      tenant.submits.push(run.queuedAt)
      byTenant.set(run.tenant, tenant)
    }
    const firsts = [...byTenant.values()].map(tenant => (Math.min(...tenant.starts) - Math.min(...tenant.submits)) / 1000)
    const lasts = [...byTenant.values()].map(tenant => (Math.max(...tenant.starts) - Math.max(...tenant.submits)) / 1000)
    const elapsed = (Math.max(...startOf.values()) - startedAt) / 1000
    const s = (n: number): string => `${n.toFixed(1)} s`
    const sizes = [...byTenant.values()].map(tenant => tenant.starts.length)
    // The most starts in any 60 s: what JOBGATE_RUN_STARTS_PER_MINUTE bounds.
    const times = queued.flatMap(run => startOf.has(run.name) ? [startOf.get(run.name) as number] : []).sort((a, b) => a - b)
    let busiest = 0
    for (let from = 0, to = 0; to < times.length; to++) {
      while ((times[to] as number) - (times[from] as number) >= 60_000) from++
      busiest = Math.max(busiest, to - from + 1)
    }
    const ceiling = variant.startsPerMinute
    return [
      {
        measure: `runs queued by ${TENANTS} tenants (sizes ${Math.min(...sizes)} to ${Math.max(...sizes)}), ` +
          `maxRunning ${MAX_RUNNING}, runs of ${runSeconds} s`,
        value: `${queued.length} in ${s((submitted - startedAt) / 1000)}`
      },
      {
        measure: '`:run` calls at the emulator / distinct queued runs started',
        value: `${starts} / ${started}`,
        goal: { text: 'every run started exactly once', met: allStarted && starts === names.size }
      },
      {
        measure: 'running executions while a backlog existed (sampled every 200 ms)',
        value: `≥ 95 % of the cap in ${(atCap * 100).toFixed(0)} % of ${samples.length} samples, median ${median(samples)}`,
        // Under a starts ceiling the cap cannot stay full: the figure is shown, not judged.
        ...(variant.startsPerMinute === undefined && { goal: { text: 'at the cap ≥ 95 % of the time', met: atCap >= 0.95 } })
      },
      {
        measure: 'admission rate',
        value: `${(started / elapsed).toFixed(1)} starts/s over ${s(elapsed)}`,
        anchor: `the cap's need: ${(MAX_RUNNING / runSeconds).toFixed(1)}/s`
      },
      {
        measure: 'each tenant\'s first start after its first submission',
        value: `min ${s(Math.min(...firsts))}, median ${s(median(firsts))}, max ${s(Math.max(...firsts))}`,
        anchor: `the last run: ${s(elapsed)}`
      },
      {
        measure: 'each tenant\'s last start after its last submission',
        value: `min ${s(Math.min(...lasts))}, median ${s(median(lasts))}, max ${s(Math.max(...lasts))}`,
        anchor: 'small tenants finish early, the biggest last'
      },
      ...(ceiling === undefined || elapsed < 60
        ? []
        : [{
            measure: 'most starts in any 60 s',
            value: `${busiest}`,
            goal: {
              text: `at most JOBGATE_RUN_STARTS_PER_MINUTE (${ceiling}) and at least 90 % of it`,
              met: busiest <= ceiling && busiest >= 0.9 * ceiling
            }
          }]),
      { measure: 'peak RSS (jobgate and the emulator in one process)', value: mib(peakRss) }
    ]
  } finally {
    await app.close()
    await services.close()
    await emulator.close()
  }
}

export const scenario: Scenario = {
  name: 'queue',
  about: 'the admission queue: 10,000 runs by 50 tenants under maxRunning 100 on the emulator, exactly once, cap occupancy, fairness, RSS',
  async run ({ samples }) {
    const runs = Number(process.env.JOBGATE_BENCH_QUEUE_RUNS ?? (samples < 10 ? 2_000 : 10_000))
    const rows: Row[] = []
    // JOBGATE_BENCH_QUEUE_VARIANTS (e.g. "polled,ceiling"): only those.
    const only = process.env.JOBGATE_BENCH_QUEUE_VARIANTS?.split(',')
    for (const variant of VARIANTS.filter(variant => only?.includes(variant.name) ?? true)) {
      const measured = await queueRun(Math.ceil(runs * variant.share), variant)
      rows.push(...measured.map(row => ({ ...row, measure: `${variant.label}: ${row.measure}` })))
    }
    return rows
  }
}
