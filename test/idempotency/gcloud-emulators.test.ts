/** The emulator harness itself, with the Pub/Sub emulator that phase 2's push tests rely on. */
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { livingProcessesInGroup, startEmulator, startPubsubEmulator } from '../helpers/gcloud-emulators.js'

/** Pids of java processes whose command line names this port (the emulator's JVM). */
function javaOnPort (hostPort: string): string[] {
  const lines = execFileSync('ps', ['-eo', 'pid=,stat=,args='], { encoding: 'utf8' }).split('\n')
  return lines.filter(line => /\bjava\b/.test(line) && line.includes(`--port=${hostPort.split(':')[1] ?? ''}`) && !/^\s*\d+\s+Z/.test(line))
}

// Two JVM start-ups on a shared 2-core machine can be slow.
t.setTimeout(180_000)

t.test('Pub/Sub emulator: starts, serves the REST API, stops without leaving java behind', async t => {
  const pubsub = await startPubsubEmulator(t)
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
  t.same(javaOnPort(pubsub.hostPort), [], 'no java left on that port')
  await t.rejects(fetch(`http://${pubsub.hostPort}/`), 'the port is closed')
})

t.test('an emulator that never becomes ready is stopped and reported, with gcloud\'s output', async t => {
  const failure = await startEmulator('pubsub', t, { readyTimeoutMs: 1 }).then(() => undefined, (err: unknown) => err as Error)
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
  const deadline = Date.now() + 10_000
  while (livingProcessesInGroup(pgid).length > 0 && Date.now() < deadline) await sleep(100)
  t.same(livingProcessesInGroup(pgid), [], 'the watchdog killed the group after its parent died')
})
