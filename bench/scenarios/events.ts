import { pino } from 'pino'
import { buildApp } from '../../api/app.js'
import { loadConfig } from '../../api/config.js'
import { createServices, type Services } from '../../api/services.js'
import { startEmulator, type Emulator } from '../../emulator/index.js'
import type { Row, Scenario } from '../scenario.js'
import { median, ms } from '../lib/stats.js'

const SILENT = pino({ level: 'silent' })

interface Listening { url: string, services: Services, close: () => Promise<void> }

async function listen (env: Record<string, string>): Promise<Listening> {
  const services = await createServices(loadConfig({ LOG_LEVEL: 'silent', JOBGATE_RATE_LIMIT: '1000000', ...env }), { logger: SILENT })
  const app = await buildApp(services)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  return {
    url: `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`,
    services,
    close: async () => { await app.close(); await services.close() }
  }
}

/** Follows GET /v1/events; for each finished event, the ms from the run's completionTime to its arrival here. */
function finishedLatencies (url: string): { latencies: Map<string, number>, stop: () => void } {
  const latencies = new Map<string, number>()
  const controller = new AbortController()
  void (async () => {
    const response = await fetch(`${url}/v1/events`, { signal: controller.signal })
    let buffer = ''
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += Buffer.from(chunk).toString()
      let end
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        if (!block.includes('event: jobgate.run.finished')) continue
        const event = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? '{}')
        latencies.set(event.data.name, Date.now() - Date.parse(event.data.completionTime))
      }
    }
  })().catch(() => {})
  return { latencies, stop: () => { controller.abort() } }
}

const until = async (check: () => boolean, timeoutMs: number): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error('the bench timed out waiting for finished events')
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

const start = async (url: string, job: string, env: Record<string, string> = {}): Promise<string> => {
  const response = await fetch(`${url}/v1/jobs/${job}/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ env }) })
  return (await response.json() as { name: string }).name
}

function latencyRows (label: string, latencies: number[], boundMs: number): Row[] {
  const max = Math.max(...latencies)
  return [{
    measure: `${label}: execution's completionTime → finished event on GET /v1/events (${latencies.length} runs)`,
    value: `median ${ms(median(latencies))}, max ${ms(max)}`,
    goal: { text: `every run ≤ ${boundMs / 1000} s`, met: max <= boundMs }
  }]
}

/** Local mode: the emulator tells the reconciler the moment a run ends. */
async function local (runs: number): Promise<Row[]> {
  const api = await listen({ JOBGATE_MODE: 'local' })
  const follower = finishedLatencies(api.url)
  try {
    await new Promise(resolve => setTimeout(resolve, 200))
    const names: string[] = []
    for (let i = 0; i < runs; i++) {
      names.push(await start(api.url, 'echo'))
      await until(() => follower.latencies.has(names.at(-1) ?? ''), 60_000)
    }
    return latencyRows('local mode', names.map(name => follower.latencies.get(name) ?? Number.NaN), 1_000)
  } finally {
    follower.stop()
    await api.close()
  }
}

/** Cloud mode against the emulator: runs of different lengths meet the reconciler anywhere in its 1 s → 4.5 s schedule. */
async function cloud (runs: number): Promise<Row[]> {
  const emulator: Emulator = await startEmulator({
    projectId: 'bench',
    region: 'us-central1',
    jobs: [{ project: 'bench', name: 'sleeper', command: ['sh', '-c', 'sleep "$SLEEP_SECONDS"'], maxRetries: 0 }]
  })
  process.env.GCE_METADATA_HOST = emulator.hostPort
  const api = await listen({
    JOBGATE_MODE: 'cloud',
    JOBGATE_AUTH: 'none',
    JOBGATE_ALLOW_UNAUTHENTICATED: 'true',
    GOOGLE_CLOUD_PROJECT: 'bench',
    CLOUD_RUN_API_ENDPOINT: emulator.url,
    CLOUD_LOGGING_API_ENDPOINT: emulator.url,
    JOBGATE_JOBS: JSON.stringify({ jobs: { sleeper: { env: { allow: ['SLEEP_SECONDS'] } } } })
  })
  const follower = finishedLatencies(api.url)
  try {
    await new Promise(resolve => setTimeout(resolve, 200))
    // Lengths spread over the schedule: 1 s to 16 s, all at once (one reconciler follows them together).
    const names = await Promise.all(Array.from({ length: runs }, async (_, i) =>
      await start(api.url, 'sleeper', { SLEEP_SECONDS: String(1 + (i * 15) / Math.max(1, runs - 1)) })))
    await until(() => names.every(name => follower.latencies.has(name)), 120_000)
    const rows = latencyRows('cloud mode, emulator, runs ending one after another', names.map(name => follower.latencies.get(name) ?? Number.NaN), 5_000)
    rows.push({ measure: 'executions.list calls for them (one reconciler)', value: String(api.services.lifecycle.runs.lists) })
    // A lone run: nothing moves while it runs, so the reconciler is at its slowest (4.5 s apart) when it ends.
    const lone: string[] = []
    for (const seconds of [7, 11, 13]) {
      lone.push(await start(api.url, 'sleeper', { SLEEP_SECONDS: String(seconds) }))
      await until(() => follower.latencies.has(lone.at(-1) ?? ''), 60_000)
    }
    rows.push(...latencyRows('cloud mode, emulator, a lone run (7, 11, 13 s)', lone.map(name => follower.latencies.get(name) ?? Number.NaN), 5_000))
    return rows
  } finally {
    follower.stop()
    await api.close()
    await emulator.close()
  }
}

export const scenario: Scenario = {
  name: 'events',
  about: 'run events: how soon after a run ends its finished event is out (recorded, published, on the firehose)',
  async run ({ samples }) {
    return [...await local(samples * 2), ...await cloud(samples * 2)]
  }
}
