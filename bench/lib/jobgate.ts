import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync } from 'node:fs'
import { freePort } from '../../common/free-port.js'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import type { MemoryLimit } from './memory-limit.js'

export const REPO = new URL('../../../', import.meta.url).pathname
export const SERVER = join(REPO, 'dist/api/server.js')
export const API_KEY = 'bench-api-key-0123456789'

/** The API image's NODE_OPTIONS (its `ENV NODE_OPTIONS=` in Dockerfile.api): every server the bench spawns gets them, as in the image. */
export const IMAGE_NODE_OPTIONS = /^ENV NODE_OPTIONS=(\S+)$/m.exec(readFileSync(join(REPO, 'Dockerfile.api'), 'utf8'))?.[1] ?? ''

/** The server as the image starts it, in cloud mode against the stand-in, with an API key principal. */
export function jobgateEnv (upstreamHost: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    // No gcloud credentials of this machine: the metadata stand-in is the only credential.
    CLOUDSDK_CONFIG: mkdtempSync(join(tmpdir(), 'jobgate-bench-')),
    JOBGATE_MODE: 'cloud',
    GOOGLE_CLOUD_PROJECT: 'bench',
    HOST: '127.0.0.1',
    JOBGATE_AUTH: 'apikey',
    JOBGATE_API_KEYS: JSON.stringify({ keys: [{ sha256: createHash('sha256').update(API_KEY).digest('hex'), principal: 'bench' }] }),
    JOBGATE_JOBS: JSON.stringify({ jobs: { echo: { principals: ['bench'], env: { allow: ['REPORT_DATE'] } } } }),
    JOBGATE_RATE_LIMIT: '1000000',
    CLOUD_RUN_API_ENDPOINT: `http://${upstreamHost}`,
    CLOUD_LOGGING_API_ENDPOINT: `http://${upstreamHost}`,
    GCE_METADATA_HOST: upstreamHost,
    ...extra
  }
}

export interface Spawned {
  url: string
  child: ChildProcess
  /** spawn → first `/healthz` 200, ms. */
  readyMs: number
  /** Bytes and lines the server wrote to stdout (its log) so far. */
  log: () => { bytes: number, lines: string[] }
  /** CPU time the server has used so far, ms (only when spawned with `cpuProbe`). */
  cpuMs: () => Promise<number>
  stop: () => Promise<void>
}

const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

const CPU_PROBE = join(REPO, 'bench/lib/cpu-probe.cjs')

/** Lines a child writes on fd 3 (the CPU probe's and the anchors' reports), each as a number. */
function fd3Numbers (child: ChildProcess): () => Promise<number> {
  const waiting: Array<(n: number) => void> = []
  const ready: number[] = []
  const fd3 = child.stdio[3] as Readable | null | undefined
  fd3?.setEncoding('utf8').on('data', (chunk: string) => {
    for (const line of chunk.split('\n').filter(text => text !== '')) {
      const next = waiting.shift()
      if (next === undefined) ready.push(Number(line))
      else next(Number(line))
    }
  })
  return async () => await new Promise(resolve => { const n = ready.shift(); if (n === undefined) waiting.push(resolve); else resolve(n) })
}

export interface SpawnOptions {
  /** Preload bench/lib/cpu-probe.cjs. */
  cpuProbe?: boolean
  /** Run inside this memory limit (bench/lib/memory-limit.ts). */
  memory?: MemoryLimit
}

/** `node <args>` with `env` (and the image's NODE_OPTIONS unless `env` sets its own), polled on `/healthz` until it answers 200. */
export async function spawnServer (args: string[], env: Record<string, string>, options: SpawnOptions = {}): Promise<Spawned> {
  const { cpuProbe = false, memory } = options
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const started = performance.now()
  const nodeArgs = cpuProbe ? ['--require', CPU_PROBE, ...args] : args
  const [command, argv] = memory?.wrap(process.execPath, nodeArgs) ?? [process.execPath, nodeArgs]
  const child = spawn(command, argv, {
    env: { NODE_OPTIONS: IMAGE_NODE_OPTIONS, ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit', ...(cpuProbe ? ['pipe' as const] : [])], cwd: REPO
  })
  const nextReport = fd3Numbers(child)
  const lines: string[] = []
  let bytes = 0
  let partial = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    bytes += Buffer.byteLength(chunk)
    const parts = (partial + chunk).split('\n')
    partial = parts.pop() ?? ''
    lines.push(...parts)
  })
  let exited = false
  const exit = new Promise<void>(resolve => child.once('exit', () => { exited = true; resolve() }))
  for (;;) {
    if (exited) throw new Error(`${args.join(' ')} exited before it was ready`)
    try {
      if ((await fetch(`${url}/healthz`)).status === 200) break
    } catch { /* not listening yet */ }
    await sleep(2)
  }
  const readyMs = performance.now() - started
  return {
    url,
    child,
    readyMs,
    log: () => ({ bytes, lines }),
    cpuMs: async () => { child.kill('SIGWINCH'); return await nextReport() / 1000 },
    stop: async () => { if (!exited) child.kill('SIGTERM'); await exit }
  }
}

/** `node <args>` run to its exit, ms from spawn. */
export async function timeToExit (args: string[], env: Record<string, string> = { PATH: process.env.PATH ?? '' }): Promise<number> {
  const started = performance.now()
  const child = spawn(process.execPath, args, { env, stdio: 'ignore', cwd: REPO })
  const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
  if (code !== 0) throw new Error(`node ${args.join(' ')} exited with ${String(code)}`)
  return performance.now() - started
}

/** Appended to a `-e` script: reports the CPU time used so far (µs) on fd 3, as the probe does for the server. */
export const REPORT_CPU = 'const { user, system } = process.cpuUsage(); require(\'node:fs\').writeSync(3, `${user + system}\\n`)'

/** `node -e <script>` (CommonJS, or ESM with `esm`) run to its exit: wall ms from spawn, and the CPU ms it reported on fd 3. */
export async function wallAndCpuToExit (script: string, { esm = false } = {}): Promise<{ wallMs: number, cpuMs: number }> {
  const started = performance.now()
  const code = esm ? `import { createRequire } from 'node:module'; ${script}; const require = createRequire(import.meta.url); ${REPORT_CPU}` : `${script}; ${REPORT_CPU}`
  const child = spawn(process.execPath, [...(esm ? ['--input-type=module'] : []), '-e', code], { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'ignore', 'inherit', 'pipe'], cwd: REPO })
  const report = fd3Numbers(child)()
  const exit = await new Promise<number | null>(resolve => child.once('exit', resolve))
  if (exit !== 0) throw new Error(`node -e ${script} exited with ${String(exit)}`)
  return { wallMs: performance.now() - started, cpuMs: await report / 1000 }
}
