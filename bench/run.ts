/**
 * Benchmarks of jobgate in local mode, measured side by side in one process run:
 *  1. run-to-logs: POST a run with overrides → the logs route shows the overrides (issue 3: < 2 s);
 *  2. overhead: the same `:run` and `executions.get` calls made directly against the emulator vs
 *     through jobgate (auth, policy, mapping, token cache), interleaved so machine noise hits both.
 * Usage: npm run bench [-- --runs 20]
 */
import { parseArgs } from 'node:util'
import { pino } from 'pino'
import { buildApp } from '../api/app.js'
import { loadConfig } from '../api/config.js'
import { productionDeps } from '../api/deps.js'
import { CachedTokenSource, metadataServerFetcher } from '../api/google/token.js'
import { startLocalMode } from '../api/local-mode.js'

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' } } })
const runs = Number(values.runs)

const median = (samples: number[]): number => {
  const sorted = [...samples].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] ?? 0 : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}
const p90 = (samples: number[]): number => [...samples].sort((a, b) => a - b)[Math.floor(samples.length * 0.9)] ?? 0
const ms = (n: number): string => `${n.toFixed(1)} ms`

async function json (url: string, init?: RequestInit): Promise<any> {
  const response = await fetch(url, init)
  return await response.json()
}

const local = await startLocalMode(loadConfig({ JOBGATE_MODE: 'local', LOG_LEVEL: 'silent' }))
const deps = productionDeps(local.config, new CachedTokenSource(metadataServerFetcher()))
const app = await buildApp(local.config, { ...deps, logger: pino({ level: 'silent' }) })
await app.listen({ port: 0, host: '127.0.0.1' })
const address = app.server.address()
const api = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
const emulator = local.emulator
const { access_token: token } = await json(`${emulator.url}/computeMetadata/v1/instance/service-accounts/default/token`, { headers: { 'metadata-flavor': 'Google' } })
const runBody = { args: ['bench'], env: { TENANT_ID: 'acme' }, taskCount: 1 }
const post = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

// 1. From the run request to the overrides showing in the logs route.
const toLogs: number[] = []
const toDone: number[] = []
for (let i = 0; i < runs; i++) {
  const started = performance.now()
  const run = await json(`${api}/v1/jobs/echo/runs`, post(runBody))
  for (;;) {
    const logs = await json(`${api}/v1/jobs/echo/runs/${run.name as string}/logs`)
    if (logs.entries.some((entry: any) => entry.payload?.env?.TENANT_ID === 'acme')) break
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  toLogs.push(performance.now() - started)
  await json(`${api}/v1/jobs/echo/runs/${run.name as string}?wait=30`)
  toDone.push(performance.now() - started)
}

// 2. Direct to the emulator vs through jobgate, interleaved; each run is waited out so no task competes for the CPU.
const directRun: number[] = []
const viaRun: number[] = []
const directGet: number[] = []
const viaGet: number[] = []
const emulatorRunBody = { overrides: { containerOverrides: [{ args: ['bench'], env: [{ name: 'TENANT_ID', value: 'acme' }] }], taskCount: 1 } }
const authorized = { authorization: `Bearer ${token as string}` }
let finished = ''
for (let i = 0; i < runs; i++) {
  let t0 = performance.now()
  const direct = await json(`${emulator.url}/apis/run.googleapis.com/v1/namespaces/local-project/jobs/echo:run`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...authorized }, body: JSON.stringify(emulatorRunBody)
  })
  directRun.push(performance.now() - t0)
  await emulator.waitForExecution(direct.metadata.name)
  t0 = performance.now()
  const via = await json(`${api}/v1/jobs/echo/runs`, post(runBody))
  viaRun.push(performance.now() - t0)
  await emulator.waitForExecution(via.name)
  finished = via.name
}
const reads = runs * 10
for (let i = 0; i < reads; i++) {
  let t0 = performance.now()
  await json(`${emulator.url}/apis/run.googleapis.com/v1/namespaces/local-project/executions/${finished}`, { headers: authorized })
  directGet.push(performance.now() - t0)
  t0 = performance.now()
  await json(`${api}/v1/jobs/echo/runs/${finished}`)
  viaGet.push(performance.now() - t0)
}

const rows = [
  ['POST run → overrides visible in GET …/logs', ms(median(toLogs)), ms(p90(toLogs)), ''],
  ['POST run → SUCCEEDED (1 task)', ms(median(toDone)), ms(p90(toDone)), ''],
  ['`:run` direct to emulator', ms(median(directRun)), ms(p90(directRun)), ''],
  ['POST /v1/jobs/echo/runs via jobgate', ms(median(viaRun)), ms(p90(viaRun)), `${(median(viaRun) / median(directRun)).toFixed(2)}× direct`],
  ['`executions.get` direct to emulator', ms(median(directGet)), ms(p90(directGet)), ''],
  ['GET /v1/jobs/echo/runs/{run} via jobgate', ms(median(viaGet)), ms(p90(viaGet)), `${(median(viaGet) / median(directGet)).toFixed(2)}× direct`]
]
process.stdout.write(`runs: ${runs} per row, reads: ${reads} per row; node ${process.version}\n\n| what | median | p90 | ratio |\n| --- | --- | --- | --- |\n`)
for (const row of rows) process.stdout.write(`| ${row.join(' | ')} |\n`)

await app.close()
await deps.close()
await emulator.close()
