/**
 * Issue 11's figures: upstream calls per minute for many waiters and log followers of one run,
 * per-client polling against the shared watcher; and in local mode, how soon after a run ends
 * `jobgate run echo --wait` exits, beside `gcloud run jobs execute --wait` on the same emulator.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { buildApp } from '../../api/app.js'
import { loadConfig } from '../../api/config.js'
import { createServices } from '../../api/services.js'
import type { Emulator } from '../../emulator/index.js'
import { REPO } from '../lib/jobgate.js'
import { median, ms, p90, times } from '../lib/stats.js'
import type { Row, Scenario } from '../scenario.js'

const WAITERS = 50
const FOLLOWERS = 10
const CLI = join(REPO, 'bin/jobgate.js')
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** The local API as `npm start` wires it, listening on a free port. */
async function startLocalApi (): Promise<{ url: string, emulator: Emulator, close: () => Promise<void> }> {
  const services = await createServices(loadConfig({ JOBGATE_MODE: 'local', LOG_LEVEL: 'silent', JOBGATE_MAX_WAITS: '10000', JOBGATE_READ_RATE_LIMIT: '1000000' }), { logger: pino({ level: 'silent' }) })
  const app = await buildApp(services)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (services.emulator === undefined) throw new Error('local mode starts an emulator')
  return {
    url: `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`,
    emulator: services.emulator,
    close: async () => { await app.close(); await services.close() }
  }
}

const upstreamCalls = (emulator: Emulator, since: number): number =>
  emulator.requests.slice(since).filter(request => request.path.includes('/executions/') || request.path.endsWith('/v2/entries:list')).length

/**
 * What jobgate did before the watcher, reimplemented here: every `?wait` request read the run
 * itself at 0.5 s, ×1.5 up to 5 s; every follower (the old CLI with --logs) also listed the logs
 * every 2 s. The calls go straight to the emulator, as jobgate's would have.
 */
async function pollPerClient (emulator: Emulator, run: string, until: number): Promise<void> {
  const token = ((await (await fetch(`${emulator.url}/computeMetadata/v1/instance/service-accounts/default/token`, { headers: { 'metadata-flavor': 'Google' } })).json()) as { access_token: string }).access_token
  const headers = { authorization: `Bearer ${token}` }
  const get = async (): Promise<void> => { await (await fetch(`${emulator.url}/apis/run.googleapis.com/v1/namespaces/local-project/executions/${run}`, { headers })).text() }
  const waiter = async (holdSeconds: number): Promise<void> => {
    while (Date.now() < until) {
      const deadline = Math.min(until, Date.now() + holdSeconds * 1000)
      for (let delay = 500; Date.now() < deadline; delay = Math.min(delay * 1.5, 5000)) {
        await get()
        await sleep(Math.min(delay, Math.max(0, deadline - Date.now())))
      }
    }
  }
  const follower = async (): Promise<void> => {
    const body = JSON.stringify({ resourceNames: ['projects/local-project'], filter: `labels."run.googleapis.com/execution_name"="${run}"`, orderBy: 'timestamp asc', pageSize: 1000 })
    while (Date.now() < until) {
      await (await fetch(`${emulator.url}/v2/entries:list`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body })).text()
      await sleep(2000)
    }
  }
  await Promise.all([
    ...Array.from({ length: WAITERS }, async () => { await waiter(10) }),
    ...Array.from({ length: FOLLOWERS }, async () => { await Promise.all([waiter(2), follower()]) })
  ])
}

/** The same callers through jobgate: `?wait=10` waiters and event-stream followers. */
async function throughWatcher (api: string, run: string, until: number): Promise<void> {
  const waiter = async (): Promise<void> => {
    while (Date.now() < until) await (await fetch(`${api}/v1/jobs/echo/runs/${run}?wait=${Math.max(1, Math.min(10, Math.ceil((until - Date.now()) / 1000)))}`)).text()
  }
  const follower = async (): Promise<void> => {
    const leave = new AbortController()
    const timer = setTimeout(() => { leave.abort() }, until - Date.now())
    try {
      const response = await fetch(`${api}/v1/jobs/echo/runs/${run}/events`, { signal: leave.signal })
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) void chunk
    } catch { /* left at the end of the window */ } finally { clearTimeout(timer) }
  }
  await Promise.all([...Array.from({ length: WAITERS }, waiter), ...Array.from({ length: FOLLOWERS }, follower)])
}

async function startRun (api: string, sleepMs: number): Promise<string> {
  const response = await fetch(`${api}/v1/jobs/echo/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ env: { ECHO_SLEEP_MS: String(sleepMs) } }) })
  return ((await response.json()) as { name: string }).name
}

/** ms from spawn to exit, and from the run's completionTime (the emulator's clock is this machine's) to exit. */
async function timedCommand (
  command: string,
  args: string[],
  env: Record<string, string>,
  emulator: Emulator
): Promise<{ totalMs: number, afterEndMs: number }> {
  const before = new Set(emulator.executions().map(execution => execution.metadata.name))
  const started = performance.now()
  const child = spawn(command, args, { env, cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
  const exitedAt = Date.now()
  const totalMs = performance.now() - started
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${String(code)}: ${stderr}`)
  const run = emulator.executions().find(execution => !before.has(execution.metadata.name))
  const completed = Date.parse(run?.status?.completionTime ?? '')
  return { totalMs, afterEndMs: exitedAt - completed }
}

/** gcloud pointed at the emulator through its properties as environment variables (see emulator/README.md, "Works with gcloud"). */
async function gcloudEnv (emulator: Emulator, dir: string): Promise<Record<string, string>> {
  const token = ((await (await fetch(`${emulator.url}/computeMetadata/v1/instance/service-accounts/default/token`, { headers: { 'metadata-flavor': 'Google' } })).json()) as { access_token: string }).access_token
  writeFileSync(join(dir, 'token'), token)
  const { hostname, port } = new URL(emulator.url)
  return {
    PATH: process.env.PATH ?? '',
    HOME: dir,
    CLOUDSDK_CONFIG: dir,
    CLOUDSDK_CORE_PROJECT: 'local-project',
    CLOUDSDK_CORE_DISABLE_PROMPTS: 'true',
    CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: 'true',
    CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: 'true',
    CLOUDSDK_RUN_REGION: emulator.region,
    CLOUDSDK_AUTH_ACCESS_TOKEN_FILE: join(dir, 'token'),
    CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN: `${emulator.url}/`,
    CLOUDSDK_PROXY_TYPE: 'http',
    CLOUDSDK_PROXY_ADDRESS: hostname,
    CLOUDSDK_PROXY_PORT: port
  }
}

const gcloudBinary = (): string | undefined =>
  (process.env.PATH ?? '').split(':').map(dir => join(dir, 'gcloud')).find(path => existsSync(path))

const perMinute = (calls: number, seconds: number): string => `${Math.round(calls * 60 / seconds).toLocaleString('en-US')}/min`
const timing = (samples: number[]): string => `${ms(median(samples))} (p90 ${ms(p90(samples))})`

export const scenario: Scenario = {
  name: 'watch',
  about: `upstream calls for ${WAITERS} ?wait waiters and ${FOLLOWERS} log followers of one run, polling per client vs jobgate's shared watcher and log tail; local mode: a run's end to \`jobgate run echo --wait\` exiting, beside \`gcloud run jobs execute --wait\` on the same emulator`,
  async run ({ samples, loadSeconds }) {
    const rows: Row[] = []
    const seconds = Math.max(10, Math.min(loadSeconds, 30))
    const api = await startLocalApi()
    try {
      // 1. The same callers on one long run, for the same window: straight polling, then through jobgate.
      const polled = await startRun(api.url, (seconds + 30) * 1000)
      let from = api.emulator.requests.length
      await pollPerClient(api.emulator, polled, Date.now() + seconds * 1000)
      const pollingCalls = upstreamCalls(api.emulator, from)
      const watched = await startRun(api.url, (seconds + 30) * 1000)
      from = api.emulator.requests.length
      await throughWatcher(api.url, watched, Date.now() + seconds * 1000)
      const watcherCalls = upstreamCalls(api.emulator, from)
      for (const run of [polled, watched]) await fetch(`${api.url}/v1/jobs/echo/runs/${run}/cancel`, { method: 'POST' })
      rows.push({ measure: `upstream calls, ${WAITERS} waiters + ${FOLLOWERS} followers polling per client (${seconds} s)`, value: perMinute(pollingCalls, seconds) })
      rows.push({
        measure: `upstream calls, the same callers through jobgate's watcher and log tail (${seconds} s)`,
        value: perMinute(watcherCalls, seconds),
        anchor: `${times(pollingCalls / Math.max(1, watcherCalls))} fewer than per-client polling`,
        goal: { text: '≥ 10× fewer (one watcher and one log tail, whatever the number of callers)', met: pollingCalls >= 10 * watcherCalls }
      })

      // 2. Local mode: from a run's end to the CLI's exit.
      const cliEnv = { PATH: process.env.PATH ?? '', JOBGATE_URL: api.url }
      const jobgate: Array<{ totalMs: number, afterEndMs: number }> = []
      for (let i = 0; i < samples; i++) jobgate.push(await timedCommand(process.execPath, [CLI, 'run', 'echo', '--wait'], cliEnv, api.emulator))
      const jobgateTotal = jobgate.map(sample => sample.totalMs)
      const jobgateAfterEnd = jobgate.map(sample => sample.afterEndMs)
      rows.push({
        measure: `\`jobgate run echo --wait\`: run's end → exit (${samples} runs)`,
        value: timing(jobgateAfterEnd),
        goal: { text: 'within about 100 ms of the run ending (median)', met: median(jobgateAfterEnd) <= 100 }
      })
      const gcloud = gcloudBinary()
      if (gcloud === undefined) {
        rows.push({ measure: '`jobgate run echo --wait`: spawn → exit', value: timing(jobgateTotal), anchor: 'gcloud is not installed: no comparison' })
      } else {
        const dir = mkdtempSync(join(tmpdir(), 'bench-gcloud-'))
        try {
          const env = await gcloudEnv(api.emulator, dir)
          const gcloudRuns: Array<{ totalMs: number, afterEndMs: number }> = []
          for (let i = 0; i < samples; i++) gcloudRuns.push(await timedCommand(gcloud, ['run', 'jobs', 'execute', 'echo', '--wait'], env, api.emulator))
          const gcloudTotal = gcloudRuns.map(sample => sample.totalMs)
          rows.push({ measure: '`gcloud run jobs execute echo --wait`: run\'s end → exit', value: timing(gcloudRuns.map(sample => sample.afterEndMs)) })
          rows.push({ measure: '`gcloud run jobs execute echo --wait`: spawn → exit', value: timing(gcloudTotal) })
          const ratio = median(gcloudTotal) / median(jobgateTotal)
          rows.push({
            measure: '`jobgate run echo --wait`: spawn → exit',
            value: timing(jobgateTotal),
            anchor: `gcloud takes ${times(ratio)} as long`,
            goal: { text: 'gcloud ≥ 4× as long', met: ratio >= 4 }
          })
        } finally {
          rmSync(dir, { recursive: true, force: true })
        }
      }
      return rows
    } finally {
      await api.close()
    }
  }
}
