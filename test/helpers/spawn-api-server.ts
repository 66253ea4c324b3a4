import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { closedPort } from './misbehaving-server.js'

export interface RunningServer {
  /** `http://127.0.0.1:<port>` */
  url: string
  child: ChildProcess
  /** stdout lines so far (the server's JSON log). */
  stdout: string[]
  stderr: () => string
  /** Resolves with the exit code and signal once the process has ended. */
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

const SERVER = new URL('../../dist/api/server.js', import.meta.url).pathname

/**
 * Starts the built API (`node dist/api/server.js`, run `npm run build` first) on a free loopback
 * port with exactly `env` (plus PATH), and resolves once it logs that it listens.
 */
export async function spawnApiServer (env: Record<string, string>, timeoutMs = 15_000, nodeArgs: string[] = []): Promise<RunningServer> {
  const port = await closedPort()
  // No application default credentials from this machine's gcloud: only the metadata server counts.
  const emptyGcloudConfig = mkdtempSync(join(tmpdir(), 'jobgate-no-adc-'))
  const child = spawn(process.execPath, [...nodeArgs, SERVER], {
    env: {
      PATH: process.env.PATH ?? '',
      CLOUDSDK_CONFIG: emptyGcloudConfig,
      HOST: '127.0.0.1',
      PORT: String(port),
      ...env
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const stdout: string[] = []
  let stderr = ''
  let partial = ''
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => child.on('exit', (code, signal) => {
    rmSync(emptyGcloudConfig, { recursive: true, force: true })
    resolve({ code, signal })
  }))
  const listening = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`server did not start in ${timeoutMs} ms: ${stderr}`)) }, timeoutMs)
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n')
      partial = lines.pop() ?? ''
      stdout.push(...lines)
      if (lines.some(line => line.includes('jobgate listening'))) { clearTimeout(timer); resolve() }
    })
    void exited.then(({ code }) => { clearTimeout(timer); reject(new Error(`server exited (${code}) before listening: ${stderr}`)) })
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  await listening
  return { url: `http://127.0.0.1:${port}`, child, stdout, stderr: () => stderr, exited }
}
