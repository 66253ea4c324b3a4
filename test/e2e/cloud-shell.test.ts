import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { runCli } from '../cli/helpers.js'
import { spawnApiServer } from '../helpers/spawn-api-server.js'

// Cloud Shell (and many gcloud users' shells) always set GOOGLE_CLOUD_PROJECT. There, `npm start`
// (node dist/api/server.js) must still start local mode, as that project, and run the echo job.
t.test('with only GOOGLE_CLOUD_PROJECT set, npm start is local mode pretending to be that project', async t => {
  const server = await spawnApiServer({ GOOGLE_CLOUD_PROJECT: 'my-project-1' }, 60_000)
  t.teardown(() => { if (server.child.exitCode === null) server.child.kill('SIGKILL') })

  const listening = server.stdout.map(line => JSON.parse(line) as Record<string, unknown>).find(entry => String(entry.message).startsWith('jobgate listening'))
  t.match(listening, { mode: 'local', jobs: ['echo'] })
  // The banner reaches stderr just after the listening line reaches stdout: wait for it (bounded), not for a fixed time.
  for (let i = 0; i < 200 && !/Project: /.test(server.stderr()); i++) await sleep(50)
  t.match(server.stderr(), /jobgate is running in local mode at http:\/\/127\.0\.0\.1:\d+/)
  t.match(server.stderr(), /Project: +my-project-1 \(the emulator pretends to be it/, 'the banner names the project')
  t.notMatch(server.stderr(), /JOBGATE_JOBS|configuration error/)

  const started = await fetch(`${server.url}/v1/jobs/echo/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ args: ['hi'] }) })
  const run = await started.json() as { name: string }
  t.equal(started.status, 202, JSON.stringify(run))
  const done = await (await fetch(`${server.url}/v1/jobs/echo/runs/${run.name}?wait=30`)).json() as { state: string }
  t.equal(done.state, 'SUCCEEDED', 'the echo job ran in the embedded emulator')

  // The run is in no Cloud Console: every answer that carries it links only to jobgate's own logs route.
  const console = /console\.cloud\.google\.com|logUri/
  t.notMatch(JSON.stringify(run), console, 'the 202 answer')
  t.notMatch(JSON.stringify(done), console, 'the run read')
  t.match(done, { links: { logs: `/v1/jobs/echo/runs/${run.name}/logs` } })
  t.notMatch(await (await fetch(`${server.url}/v1/jobs/echo/runs`)).text(), console, 'the runs list')
  t.notMatch(await (await fetch(`${server.url}/v1/jobs/echo/runs/${run.name}/events?logs=false`)).text(), console, 'the event stream')
  const status = await runCli(['status', 'echo', run.name], server.url)
  t.equal(status.code, 0, status.stderr)
  t.notMatch(status.stdout + status.stderr, console, 'jobgate status')
  const failed = await runCli(['run', 'echo', '--env', 'ECHO_EXIT_CODE=3', '--wait'], server.url)
  t.equal(failed.code, 1, failed.stderr)
  t.match(failed.stderr, `Logs: jobgate logs echo ${run.name.replace(/-[a-z0-9]+$/, '-')}`)
  t.notMatch(failed.stdout + failed.stderr, console, 'a failed run\'s summary names `jobgate logs`, not the Console')

  server.child.kill('SIGTERM')
  t.match(await server.exited, { code: 0 })
})
