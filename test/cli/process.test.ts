/** The real `jobgate` process (bin/jobgate.js → dist/) against the fake API: exit codes, streams, signals. */
import { spawn, spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { startFakeApi, type FakeApi } from './fake-api.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const bin = `${root}bin/jobgate.js`

/** Builds dist/ when a cli/ source is newer than its compiled file (npm test builds first anyway). */
function ensureBuilt (): void {
  const sources = readdirSync(`${root}cli`, { recursive: true, encoding: 'utf8' }).filter(file => file.endsWith('.ts'))
  const stale = sources.some(file => {
    try {
      return statSync(`${root}cli/${file}`).mtimeMs > statSync(`${root}dist/cli/${file.replace(/\.ts$/, '.js')}`).mtimeMs
    } catch {
      return true
    }
  })
  if (!stale) return
  const build = spawnSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', `${root}tsconfig.build.json`], { encoding: 'utf8' })
  if (build.status !== 0) throw new Error(`build failed:\n${build.stdout}${build.stderr}`)
}

interface Result { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string, ms: number }

function jobgate (args: string[], env: Record<string, string>, onSpawn?: (child: ReturnType<typeof spawn>) => void): Promise<Result> {
  const started = Date.now()
  // A clean environment: nothing of the test runner's JOBGATE_* or Google settings leaks in.
  const child = spawn(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', CLOUDSDK_CONFIG: '/nonexistent', ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', chunk => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', chunk => { stderr += chunk })
  onSpawn?.(child)
  return new Promise(resolve => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - started })))
}

let api: FakeApi
let env: Record<string, string>
t.before(async () => {
  ensureBuilt()
  api = await startFakeApi({ apiKey: 'ci-key' })
  env = { JOBGATE_URL: api.url, JOBGATE_API_KEY: 'ci-key' }
})
t.teardown(() => api.close())

t.test('run --wait --logs of the echo job exits 0 and prints the echoed env', async t => {
  const r = await jobgate(['run', 'echo', '--env', 'RELEASE=3f2a9c1', '--wait', '--logs'], env)
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, '[task 0] INFO env env={"RELEASE":"3f2a9c1"}')
  t.match(r.stderr, /echo-job-\d+ +SUCCEEDED +\[#{20}\] 1\/1/)
  t.match(r.stderr, /Run echo-job-\d+ SUCCEEDED in/)
  t.notMatch(r.stderr, 'Warning', 'no node warnings')
  t.ok(r.ms < 10_000, `exits promptly when done (${r.ms} ms): nothing keeps the process alive`)
})

t.test('a failing job exits 1', async t => {
  const r = await jobgate(['run', 'fail', '--wait', '--logs'], env)
  t.equal(r.code, 1)
  t.match(r.stdout, '[task 0] ERROR migration 42 failed')
})

t.test('--wait-timeout 1 on a long job exits 4', async t => {
  const r = await jobgate(['run', 'slow', '--wait-timeout', '1'], env)
  t.equal(r.code, 4)
  t.match(r.stderr, /Resume with: jobgate status slow slow-job-\d+ --wait/)
})

t.test('a run cancelled from elsewhere exits 3', async t => {
  const known = new Set(api.runs.keys())
  const waiting = jobgate(['run', 'slow', '--wait', '--json'], env)
  let name: string | undefined
  for (let i = 0; i < 400 && name === undefined; i++) {
    await new Promise(resolve => setTimeout(resolve, 25))
    name = [...api.runs.keys()].find(run => !known.has(run))
  }
  const cancel = await jobgate(['cancel', 'slow', name ?? ''], env)
  t.equal(cancel.code, 0)
  const r = await waiting
  t.equal(r.code, 3)
  t.match(JSON.parse(r.stdout), { name, state: 'CANCELLED' })
})

t.test('bad flags exit 2 with usage on stderr', async t => {
  const r = await jobgate(['run', 'echo', '--taks', '3'], env)
  t.equal(r.code, 2)
  t.equal(r.stdout, '')
  t.match(r.stderr, 'jobgate: Unknown option \'--taks\'')
  t.match(r.stderr, 'Usage: jobgate run <job>')
})

t.test('a wrong API key exits 5 with the server message', async t => {
  const r = await jobgate(['run', 'echo', '--wait'], { ...env, JOBGATE_API_KEY: 'sk-nope-1234' })
  t.equal(r.code, 5)
  t.match(r.stderr, 'jobgate: UNAUTHENTICATED 401: the API key is not valid')
  t.notMatch(r.stderr + r.stdout, 'sk-nope-1234')
})

t.test('the first connection drops: two POSTs, one Idempotency-Key, one run', async t => {
  const before = api.runs.size
  const postsBefore = api.requests.filter(r => r.method === 'POST' && r.path === '/v1/jobs/echo/runs').length
  api.inject({ method: 'POST', path: /^\/v1\/jobs\/echo\/runs$/, fault: 'handle-then-drop' })
  const r = await jobgate(['run', 'echo', '--wait'], env)
  t.equal(r.code, 0, r.stderr)
  const posts = api.requests.filter(r => r.method === 'POST' && r.path === '/v1/jobs/echo/runs').slice(postsBefore)
  t.equal(posts.length, 2)
  t.equal(posts[0]?.headers['idempotency-key'], posts[1]?.headers['idempotency-key'])
  t.equal(api.runs.size, before + 1)
})

t.test('Ctrl-C (SIGINT) in CI: stops waiting, says how to resume, exits 130, run continues', async t => {
  const r = await jobgate(['run', 'slow', '--wait'], env, child => {
    child.stderr?.once('data', () => setTimeout(() => child.kill('SIGINT'), 200))
  })
  t.equal(r.code, 130)
  t.match(r.stderr, /Interrupted: stopped waiting\.\nRun (slow-job-\d+) continues\. Resume with: jobgate status slow \1 --wait/)
  const name = /Run (slow-job-\d+) continues/.exec(r.stderr)?.[1] ?? ''
  t.equal(api.snapshot(name).state, 'RUNNING')
})

t.test('--version and no Google credentials for a remote URL', async t => {
  const version = await jobgate(['--version'], {})
  t.match(version.stdout, /^\d+\.\d+\.\d+\n$/)
  const remote = await jobgate(['jobs'], { JOBGATE_URL: 'https://jobgate.invalid', GCE_METADATA_HOST: '127.0.0.1:9' })
  t.equal(remote.code, 5)
  t.match(remote.stderr, 'jobgate: no credentials for https://jobgate.invalid')
  t.match(remote.stderr, 'JOBGATE_API_KEY')
  t.notMatch(remote.stderr, 'MetadataLookupWarning')
})
