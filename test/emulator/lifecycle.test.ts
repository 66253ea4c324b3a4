import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { companionJobPath, defaultJobCommand, startEmulator } from '../../emulator/index.js'
import { client, fetchToken, runPath, startTestEmulator } from './helpers.js'

/** Whether a process exists and is not a zombie (a reaped-by-nobody corpse is dead enough). */
function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

async function until (what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

t.test('the default command is this Node running the built companion job', async t => {
  t.equal(companionJobPath(), fileURLToPath(new URL('../../dist/job/main.js', import.meta.url)))
  t.ok(existsSync(companionJobPath()), 'built by npm run build / pretest')
  t.same(defaultJobCommand(), [process.execPath, companionJobPath()])
})

t.test('close() kills every task, including ones that ignore SIGTERM and their children', async t => {
  const script = [
    'const { spawn } = require(\'node:child_process\')',
    'const grandchild = spawn(\'sleep\', [\'60\'], { stdio: \'ignore\' })',
    'process.on(\'SIGTERM\', () => {})',
    'console.log(JSON.stringify({ message: "pids", pid: process.pid, grandchild: grandchild.pid }))',
    'setInterval(() => {}, 1000)'
  ].join('; ')
  const lines: string[] = []
  const emulator = await startEmulator({ killGraceMs: 300, logger: line => lines.push(line), jobs: [{ project: 'p', name: 'stubborn', taskCount: 3, command: [process.execPath, '-e', script] }] })
  const api = client(emulator, await fetchToken(emulator))
  t.equal((await api('POST', runPath('p', 'jobs/stubborn:run'), {})).status, 200)
  await until('3 tasks to report their pids', () => emulator.logEntries().filter(e => e.jsonPayload?.message === 'pids').length === 3)
  const pids = emulator.logEntries().flatMap(e => [e.jsonPayload?.pid, e.jsonPayload?.grandchild]) as number[]
  t.equal(pids.length, 6)
  t.ok(pids.every(alive), 'all running before close')
  const name = emulator.executions()[0]?.metadata.name as string
  const ended = emulator.waitForExecution(name)
  const started = Date.now()
  await emulator.close()
  t.ok(Date.now() - started >= 250, 'SIGTERM was ignored, so SIGKILL came after the grace period')
  const execution = await ended
  t.match(execution.status, { cancelledCount: 3 })
  t.match(execution.status.conditions.find(c => c.type === 'Completed'), { status: 'False', reason: 'Cancelled', message: /emulator closed/ })
  await until('the grandchildren to go', () => !pids.some(alive), 2000)
  t.notOk(pids.some(alive), 'no task process outlives close()')
  await emulator.close()
  t.pass('close() twice is fine')
  t.ok(lines.some(line => /stubborn-[a-z0-9]{5}: task 0 attempt 0 started/.test(line)), 'the logger saw task events')
  t.notOk(lines.some(line => /ya29\./.test(line)), 'the logger never sees a token')
})

t.test('a child never outlives the Node process, even without close()', async t => {
  const fixture = fileURLToPath(new URL('fixtures/exit-without-close.mjs', import.meta.url))
  const child = spawn(process.execPath, [fixture], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
  const code = await new Promise(resolve => child.on('close', resolve))
  t.equal(code, 0)
  const pid = Number(out.trim())
  t.ok(pid > 0, `the task's pid: ${out.trim()}`)
  await until('the orphaned task to die', () => !alive(pid), 2000)
  t.notOk(alive(pid))
})

t.test('close() ends requests held by an injected delay', async t => {
  const emulator = await startEmulator()
  emulator.failNext({}, { delayMs: 60_000 })
  const pending = fetch(`${emulator.url}/computeMetadata/v1/project/project-id`, { headers: { 'Metadata-Flavor': 'Google' } })
  await until('the request to arrive', () => emulator.requests.length === 1)
  const started = Date.now()
  await emulator.close()
  await t.rejects(pending, 'the client sees the connection end')
  t.ok(Date.now() - started < 5000)
})

t.test('the metadata server answers like Cloud Run\'s', async t => {
  const emulator = await startTestEmulator(t, { projectId: 'acme-prod', projectNumber: '4242', region: 'europe-west1' })
  const get = async (path: string, flavor = true, method = 'GET') => {
    const response = await fetch(`${emulator.url}${path}`, { method, headers: flavor ? { 'Metadata-Flavor': 'Google' } : {} })
    return { status: response.status, flavor: response.headers.get('metadata-flavor'), type: response.headers.get('content-type'), text: await response.text() }
  }
  const base = '/computeMetadata/v1'
  t.match(await get('/', false), { status: 200, flavor: 'Google', text: 'computeMetadata/\n' }, 'the GCE probe')
  t.match(await get('/computeMetadata/', false), { status: 200, flavor: 'Google' })
  t.match(await get(`${base}/project/project-id`, false), { status: 403, flavor: 'Google', text: /Metadata-Flavor/ }, 'no flavor header: 403')
  t.match(await get(`${base}/project/project-id`), { status: 200, flavor: 'Google', text: 'acme-prod' })
  t.match(await get(`${base}/project/numeric-project-id`), { text: '4242' })
  t.match(await get(`${base}/instance/region`), { text: 'projects/4242/regions/europe-west1' })
  t.match(await get(`${base}/instance/zone`), { text: 'projects/4242/zones/europe-west1-1' })
  t.match(await get(`${base}/instance/id`), { text: /^\d+$/ })
  t.match(await get(`${base}/instance/service-accounts/default/email`), { text: '4242-compute@developer.gserviceaccount.com' })
  t.match(await get(`${base}/instance/service-accounts/4242-compute@developer.gserviceaccount.com/email`), { text: '4242-compute@developer.gserviceaccount.com' })
  t.match(await get(`${base}/instance/service-accounts/default/scopes`), { text: /cloud-platform/ })
  t.match(await get(`${base}/instance/service-accounts/default/aliases`), { text: 'default\n' })
  t.match(await get(`${base}/instance/service-accounts/`), { text: 'default/\n4242-compute@developer.gserviceaccount.com/\n' })
  t.match(await get(`${base}/instance/`), { text: /region\n/ })
  t.match(await get(`${base}/project`), { text: /project-id/ })
  t.match(await get(`${base}/`), { text: 'instance/\nproject/\nuniverse/\n' })
  t.match(await get(`${base}/universe/universe-domain`), { text: 'googleapis.com' })
  t.match(await get(`${base}/instance/service-accounts/someone-else/token`), { status: 404, flavor: 'Google' })
  t.match(await get(`${base}/instance/service-accounts/default/identity?audience=x`), { status: 404 }, 'ID tokens are not emulated')
  t.match(await get(`${base}/project/project-id`, true, 'POST'), { status: 405 })
  const token = await get(`${base}/instance/service-accounts/default/token?scopes=https://www.googleapis.com/auth/cloud-platform`)
  t.match(token, { status: 200, flavor: 'Google', type: /application\/json/ })
  t.match(JSON.parse(token.text), { access_token: /^ya29\.emulator-[\w-]{32}$/, expires_in: 3600, token_type: 'Bearer' })
  const again = JSON.parse((await get(`${base}/instance/service-accounts/default/token`)).text) as { access_token: string }
  t.not(again.access_token, JSON.parse(token.text).access_token, 'each request mints a new token')
})

t.test('startEmulator rejects bad jobs and busy ports', async t => {
  await t.rejects(startEmulator({ jobs: [{ project: 'p', name: 'Not_Valid' }] }), /not a valid Cloud Run job name/)
  await t.rejects(startEmulator({ jobs: [{ project: 'p', name: 'x', command: [] }] }), /command must not be empty/)
  await t.rejects(startEmulator({ jobs: [{ project: 'p', name: 'x', taskCount: 0 }] }), /taskCount: must be between 1/)
  await t.rejects(startEmulator({ jobs: [{ project: 'p', name: 'x', env: { CLOUD_RUN_JOB: 'x' } }] }), /reserved env names/)
  const first = await startTestEmulator(t)
  await t.rejects(startEmulator({ port: Number(first.hostPort.split(':')[1]) }), { code: 'EADDRINUSE' })
  t.equal(first.projectId, 'local-project')
  t.equal(first.projectNumber, '123456789012')
  t.equal(first.region, 'us-central1')
  t.match(first.url, /^http:\/\/127\.0\.0\.1:\d+$/)
})

t.test('a project id the emulator was not told about gets a stable made-up number', async t => {
  const emulator = await startTestEmulator(t, { jobs: [{ project: 'elsewhere', name: 'echo-job' }], projectId: 'home' })
  const api = client(emulator, await fetchToken(emulator))
  const run = await api<{ metadata: { namespace: string, name: string } }>('POST', runPath('elsewhere', 'jobs/echo-job:run'), {})
  const number = run.body.metadata.namespace
  t.match(number, /^9\d{11}$/)
  t.equal((await api('GET', runPath(number, `executions/${run.body.metadata.name}`))).status, 200, 'and that number works as namespace')
})
