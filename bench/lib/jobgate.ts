import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const REPO = new URL('../../../', import.meta.url).pathname
export const SERVER = join(REPO, 'dist/api/server.js')
export const API_KEY = 'bench-api-key-0123456789'

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

export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise(resolve => server.close(resolve))
  return typeof address === 'object' && address !== null ? address.port : 0
}

export interface Spawned {
  url: string
  child: ChildProcess
  /** spawn → first `/healthz` 200, ms. */
  readyMs: number
  /** Bytes and lines the server wrote to stdout (its log) so far. */
  log: () => { bytes: number, lines: string[] }
  stop: () => Promise<void>
}

const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

/** `node <args>` with `env`, polled on `/healthz` until it answers 200. */
export async function spawnServer (args: string[], env: Record<string, string>): Promise<Spawned> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const started = performance.now()
  const child = spawn(process.execPath, args, { env: { ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'], cwd: REPO })
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
