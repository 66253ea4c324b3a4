import { createServer, type IncomingMessage } from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { hashApiKey } from '../../api/auth/index.js'
import { call } from '../helpers/call.js'
import { runProcess, type ProcessResult } from '../helpers/run-process.js'
import { runCli } from '../cli/helpers.js'
import { build } from '../helper.js'

// The real `jobgate` process against the real API in local mode (emulator, child-process tasks).
const KEY = 'ci-key-0123456789abcdef'
const stack = await build(t, {
  listen: true,
  env: {
    JOBGATE_MODE: 'local',
    JOBGATE_AUTH: 'apikey',
    JOBGATE_API_KEYS: JSON.stringify({ keys: [{ sha256: hashApiKey(KEY), principal: 'ci' }] }),
    JOBGATE_JOBS: JSON.stringify({ jobs: { echo: { env: { allow: ['TENANT_ID', 'ECHO_*'] }, principals: ['ci'] } } })
  }
})

async function jobgate (args: string[], env: Record<string, string> = {}): Promise<ProcessResult> {
  // A clean environment: no developer gcloud credentials, no inherited JOBGATE_* settings.
  return await runProcess(process.execPath, ['bin/jobgate.js', ...args], {
    env: { PATH: process.env.PATH ?? '', CLOUDSDK_CONFIG: '/nonexistent', JOBGATE_URL: stack.url, JOBGATE_API_KEY: KEY, ...env }
  })
}

const runCalls = (): number => stack.emulator.requests.filter(request => request.method === 'POST' && request.path.endsWith(':run')).length

t.test('run --wait --logs exits 0 and prints what the job echoed', async t => {
  const result = await jobgate(['run', 'echo', '--env', 'TENANT_ID=acme', '--arg', 'nightly', '--tasks', '2', '--wait', '--logs'])
  t.equal(result.code, 0, result.stderr)
  const output = result.stdout + result.stderr
  t.match(output, /TENANT_ID/)
  t.match(output, /acme/)
  t.match(output, /nightly/)
  t.match(output, /SUCCEEDED/)
})

t.test('--json prints the final Run on stdout', async t => {
  const result = await jobgate(['run', 'echo', '--wait', '--json'])
  t.equal(result.code, 0)
  const run = JSON.parse(result.stdout)
  t.equal(run.state, 'SUCCEEDED')
  t.equal(run.job, 'echo')
})

t.test('a failing job exits 1 and names the failed task, its attempts and exit code; tasks shows every retry', async t => {
  const result = await jobgate(['run', 'echo', '--env', 'ECHO_EXIT_CODE=3', '--wait'])
  t.equal(result.code, 1)
  t.match(result.stderr, /FAILED after \d+s \(0 of 1 tasks succeeded, 1 failed, 1 retried\):\n {2}task 0 failed after 4 attempts: exit code 3\n/)
  // The same CLI in this process (a process each costs seconds on a loaded machine): the real routes behind tasks, runs, jobs.
  const name = /Started run (echo-\S+) /.exec(result.stderr)?.[1] ?? ''
  const inProcess = async (argv: string[]): Promise<{ code: number, stdout: string, stderr: string }> =>
    await runCli(argv, stack.url, { env: { JOBGATE_URL: stack.url, JOBGATE_API_KEY: KEY } })
  const tasks = await inProcess(['tasks', 'echo', name])
  t.equal(tasks.code, 0, tasks.stderr)
  t.match(tasks.stdout, /^TASK +STATE +ATTEMPTS +EXIT +STARTED +DURATION +MESSAGE\n0 +FAILED +4 +3 +/)
  const runs = await inProcess(['runs', 'echo', '--limit', '1'])
  t.match(runs.stdout, new RegExp(`^RUN +STATE +STARTED +DURATION +TASKS\n${name} +FAILED +\\S+ +\\d+s +0/1 \\(1 failed\\)\n$`))
  const unknown = await inProcess(['run', 'nightly'])
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, 'jobgate: job \'nightly\' is not in jobgate\'s catalog; jobs you may use: echo')
  t.match((await inProcess(['jobs'])).stdout, /^JOB +MAX TASKS +MAX TIMEOUT +ARGS +ENV +DESCRIPTION\necho +10000 +24h00m00s +up to 100 +TENANT_ID,ECHO_\*/)
})

t.test('--wait-timeout on a long job exits 4 and the run goes on', async t => {
  const result = await jobgate(['run', 'echo', '--env', 'ECHO_SLEEP_MS=20000', '--wait', '--wait-timeout', '1', '--json'])
  t.equal(result.code, 4)
  t.match(result.stderr, /jobgate status echo /)
  const run = JSON.parse(result.stdout)
  const now = await call(`${stack.url}/v1/jobs/echo/runs/${run.name as string}`, { headers: { 'x-api-key': KEY } })
  t.not(now.body.state, 'CANCELLED', 'waiting stopped, the run did not')
  await call(`${stack.url}/v1/jobs/echo/runs/${run.name as string}/cancel`, { method: 'POST', headers: { 'x-api-key': KEY } })
})

t.test('a run cancelled while waiting exits 3', async t => {
  const started = await jobgate(['run', 'echo', '--env', 'ECHO_SLEEP_MS=20000'])
  t.equal(started.code, 0)
  const name = started.stdout.trim()
  t.match(name, /^echo-[a-z0-9]{5}$/)
  const waiting = jobgate(['status', 'echo', name, '--wait'])
  // Cancel once the CLI is following the run (its event stream is open), not after a guessed pause.
  for (const deadline = Date.now() + 60_000; stack.services.live.streams.size === 0 && Date.now() < deadline;) {
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  t.equal(stack.services.live.streams.size, 1, 'the CLI follows the run')
  const cancelled = await call(`${stack.url}/v1/jobs/echo/runs/${name}/cancel`, { method: 'POST', headers: { 'x-api-key': KEY } })
  t.equal(cancelled.status, 200)
  t.equal((await waiting).code, 3)
})

t.test('bad flags exit 2 with usage on stderr', async t => {
  const result = await jobgate(['run', 'echo', '--no-such-flag'])
  t.equal(result.code, 2)
  t.match(result.stderr, /usage|Usage/)
  t.equal(result.stdout, '')
})

t.test('a wrong API key exits 5 with the server\'s message', async t => {
  const before = runCalls()
  const result = await jobgate(['run', 'echo', '--wait'], { JOBGATE_API_KEY: 'wrong-key' })
  t.equal(result.code, 5)
  t.match(result.stderr, /UNAUTHENTICATED|API key/i)
  t.notMatch(result.stderr, /wrong-key/, 'the key is never printed')
  t.equal(runCalls(), before, 'nothing started')
})

t.test('a dropped connection is retried with the same Idempotency-Key: one run', async t => {
  // A proxy that forwards the first POST, lets the run start, then drops the connection unanswered.
  const seenKeys: string[] = []
  let dropped = false
  const proxy = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = []
    request.on('data', chunk => chunks.push(chunk as Buffer))
    request.on('end', () => {
      void (async () => {
        const key = request.headers['idempotency-key']
        if (request.method === 'POST' && typeof key === 'string') seenKeys.push(key)
        const upstream = await fetch(`${stack.url}${request.url ?? '/'}`, {
          method: request.method ?? 'GET',
          headers: Object.fromEntries(Object.entries(request.headers).filter(([name]) => !['host', 'connection', 'content-length'].includes(name)).map(([name, value]) => [name, String(value)])),
          ...(chunks.length > 0 && { body: Buffer.concat(chunks) })
        })
        const body = Buffer.from(await upstream.arrayBuffer())
        if (request.method === 'POST' && !dropped) {
          dropped = true
          request.socket.destroy()
          return
        }
        response.writeHead(upstream.status, Object.fromEntries([...upstream.headers].filter(([name]) => name !== 'content-encoding' && name !== 'transfer-encoding')))
        response.end(body)
      })()
    })
  })
  proxy.listen(0, '127.0.0.1')
  await once(proxy, 'listening')
  t.teardown(() => { proxy.close() })
  const before = runCalls()
  const result = await jobgate(['run', 'echo', '--wait'], { JOBGATE_URL: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` })
  t.equal(result.code, 0, result.stderr)
  t.ok(dropped, 'the first connection was dropped after the run started')
  t.equal(seenKeys.length, 2, 'the CLI sent the POST twice')
  t.equal(seenKeys[0], seenKeys[1], 'with one Idempotency-Key')
  t.equal(runCalls() - before, 1, 'and the emulator started exactly one run')
})
