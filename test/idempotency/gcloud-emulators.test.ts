/** The emulator harness itself, with the Pub/Sub emulator that phase 2's push tests rely on. */
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { livingProcessesInGroup, startEmulator } from '../helpers/gcloud-emulators.js'
import { currentTapRun } from '../helpers/tap-run-share.js'

/** Pids of java processes whose command line names this port (the emulator's JVM). */
function javaOnPort (hostPort: string): string[] {
  const lines = execFileSync('ps', ['-eo', 'pid=,stat=,args='], { encoding: 'utf8' }).split('\n')
  return lines.filter(line => /\bjava\b/.test(line) && line.includes(`--port=${hostPort.split(':')[1] ?? ''}`) && !/^\s*\d+\s+Z/.test(line))
}

// Two JVM start-ups on a shared 2-core machine can be slow.
t.setTimeout(180_000)

/** Waits (bounded) until no process of group `pgid` is alive. */
async function gone (pgid: number): Promise<number[]> {
  for (const deadline = Date.now() + 20_000; livingProcessesInGroup(pgid).length > 0 && Date.now() < deadline;) await sleep(100)
  return livingProcessesInGroup(pgid)
}

t.test('Pub/Sub emulator: starts, serves the REST API, stops without leaving java behind', async t => {
  const pubsub = await startEmulator('pubsub', t, { shared: false })
  t.equal(pubsub.shared, false)
  t.match(pubsub.project, /^jobgate-[0-9a-f]{8}$/, 'a project of its own')
  t.comment(`Pub/Sub emulator ready in ${pubsub.startupMs} ms on ${pubsub.hostPort}`)
  t.match(pubsub.hostPort, /^127\.0\.0\.1:\d+$/)
  t.same(pubsub.env, { PUBSUB_EMULATOR_HOST: pubsub.hostPort })
  t.equal(javaOnPort(pubsub.hostPort).length, 1, 'its JVM runs')

  const created = await fetch(`http://${pubsub.hostPort}/v1/projects/p/topics/smoke-topic`, { method: 'PUT' })
  t.equal(created.status, 200)
  t.same(await created.json(), { name: 'projects/p/topics/smoke-topic' })
  const listed = await (await fetch(`http://${pubsub.hostPort}/v1/projects/p/topics`)).json() as { topics: Array<{ name: string }> }
  t.same(listed.topics.map(topic => topic.name), ['projects/p/topics/smoke-topic'])

  await pubsub.stop()
  t.same(livingProcessesInGroup(pubsub.pgid), [], 'no process of the group is alive')
  await pubsub.stop()
  t.pass('stop() twice is harmless')
  t.same(javaOnPort(pubsub.hostPort), [], 'no java left on that port')
  await t.rejects(fetch(`http://${pubsub.hostPort}/`), 'the port is closed')
})

t.test('an emulator that never becomes ready is stopped and reported, with gcloud\'s output', async t => {
  const failure = await startEmulator('pubsub', t, { readyTimeoutMs: 1, shared: false }).then(() => undefined, (err: unknown) => err as Error)
  t.match(failure?.message, /^the pubsub emulator did not start on 127\.0\.0\.1:\d+: no answer within 1 ms/)
  const hostPort = /127\.0\.0\.1:\d+/.exec(failure?.message ?? '')?.[0] ?? ''
  const leftovers = execFileSync('ps', ['-eo', 'args='], { encoding: 'utf8' }).split('\n').filter(line => line.includes(hostPort) || new RegExp(`--port=${hostPort.split(':')[1] ?? ''}\\b`).test(line))
  t.same(leftovers, [], 'nothing of the last attempt is left running')
})

t.test('a test process killed outright (no teardown) still leaves no java behind', async t => {
  const fixture = new URL('fixtures/start-and-die.ts', import.meta.url).pathname
  const child = spawn(process.execPath, [...process.execArgv, fixture], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => { child.kill('SIGKILL') })
  const [line] = await once(child.stdout, 'data') as [Buffer]
  const { pgid } = JSON.parse(line.toString()) as { pgid: number }
  t.ok(livingProcessesInGroup(pgid).length >= 2, 'the emulator runs')
  child.kill('SIGKILL')
  t.same(await gone(pgid), [], 'the watchdog killed the group after its parent died')
})

t.test('under tap, one emulator per run: it outlives the file that started it, serves the next, and dies with the runner', async t => {
  t.ok(currentTapRun(), 'this file runs under tap: its own emulators would be shared')
  t.equal(currentTapRun({ ...process.env, _TAPJS_PROCESSINFO_PARENT_: 'another-process' }), undefined, 'a process a test spawned is not a file of the run')
  t.equal(currentTapRun({}), undefined, 'nor is a process outside tap')
  // A fake run: a shell stands for the runner, its children for its test files (the shell sets their ids:
  // processinfo, in a child spawned from here or in the children themselves, would give each its own).
  const fixture = new URL('fixtures/start-in-fake-run.ts', import.meta.url).pathname
  const file = [process.execPath, ...process.execArgv.filter(arg => !arg.includes('processinfo')), fixture].map(word => `'${word}'`).join(' ')
  const run = `unset NODE_OPTIONS; export _TAPJS_PROCESSINFO_ROOT_=file _TAPJS_PROCESSINFO_PARENT_=file; ${file}; ${file}; while :; do sleep 1; done`
  const runner = spawn('sh', ['-c', run], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => { runner.kill('SIGKILL') })
  let output = ''
  runner.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  for (const deadline = Date.now() + 150_000; output.split('\n').filter(Boolean).length < 2 && Date.now() < deadline;) await sleep(100)
  const [first, second] = output.split('\n').filter(Boolean).map(line => JSON.parse(line) as { pgid: number, hostPort: string, shared: boolean, dir: string })
  t.match(first, { shared: true, refusedToStop: 'the pubsub emulator is shared by this run\'s test files: start it with { shared: false } to stop it' })
  t.same(second, first, 'the second file got the first one\'s emulator')
  const pgid = first?.pgid ?? 0
  t.ok(livingProcessesInGroup(pgid).length >= 2, 'it outlived the file that started it')
  const dir = first?.dir ?? ''
  t.ok(existsSync(dir), 'the run keeps its records')
  runner.kill('SIGKILL')
  t.same(await gone(pgid), [], 'the runner died: so did the emulator')
  for (const deadline = Date.now() + 10_000; existsSync(dir) && Date.now() < deadline;) await sleep(100)
  t.notOk(existsSync(dir), 'and the run\'s records')
})
