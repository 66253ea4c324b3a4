/**
 * An image build step (`RUN node dist/common/warm-compile-cache.js` in Dockerfile.api and Dockerfile.job, after
 * `USER node`): runs each entry point once so that Node writes its compile cache (NODE_COMPILE_CACHE, Node ≥ 22.1)
 * into the image, as the user that will read it (Node keeps the cache per user id). A cold start then reads V8's
 * compiled code instead of compiling the server's ~1.4 MB bundle. Node 20 has no compile cache: this only runs them.
 * The API starts as the image starts it without settings (local mode), answers /healthz, and stops on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { freePort } from './free-port.js'

const entry = (path: string): string => fileURLToPath(new URL(`../${path}`, import.meta.url))
const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

/** Resolves with the exit code; a signal or a failure to start rejects. */
async function exitCode (child: ChildProcess, what: string): Promise<number> {
  return await new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code, signal) => { if (code === null) reject(new Error(`${what} ended by ${String(signal)}`)); else resolve(code) })
  })
}

async function warmJob (): Promise<void> {
  const code = await exitCode(spawn(process.execPath, [entry('job/main.js'), 'warm-compile-cache'], { stdio: ['ignore', 'ignore', 'inherit'] }), 'the job')
  if (code !== 0) throw new Error(`the job exited with ${code}`)
}

async function warmApi (): Promise<void> {
  const port = await freePort()
  const child = spawn(process.execPath, [entry('api/server.js')], { env: { ...process.env, HOST: '127.0.0.1', PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] })
  // Its local-mode banner is no news in a build log: stderr is shown only if the warm-up fails.
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const exited = exitCode(child, 'the API')
  let running = true
  void exited.finally(() => { running = false }).catch(() => {})
  let healthy = false
  const deadline = Date.now() + 60_000
  while (running && !healthy && Date.now() < deadline) {
    healthy = await fetch(`http://127.0.0.1:${port}/healthz`).then(response => response.status === 200, () => false)
    if (!healthy) await sleep(100)
  }
  if (running) child.kill('SIGTERM')
  // Its graceful exit (0) is when Node writes the cache.
  const code = await exited
  if (!healthy || code !== 0) throw new Error(`${healthy ? `the API exited with ${code} on SIGTERM` : 'the API did not answer /healthz'}\n${stderr}`)
}

await warmJob()
await warmApi()
