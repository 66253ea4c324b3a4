import t from 'tap'
import { startMetadataStandIn } from '../helpers/metadata-standin.js'
import { startRunApiStandIn } from '../helpers/run-api-standin.js'
import { spawnApiServer } from '../helpers/spawn-api-server.js'

// Issue 2, "Done when": the built server in cloud mode against a Run API stand-in and a metadata stand-in.
t.test('cloud mode: one POST makes exactly the upstream request the contract describes; SIGTERM drains and exits 0', async t => {
  const runApi = await startRunApiStandIn({ runForMs: 1000 })
  const metadata = await startMetadataStandIn()
  t.teardown(async () => { await runApi.close(); await metadata.close() })

  const server = await spawnApiServer({
    JOBGATE_MODE: 'cloud',
    JOBGATE_AUTH: 'none',
    JOBGATE_ALLOW_UNAUTHENTICATED: 'true',
    CLOUD_RUN_API_ENDPOINT: runApi.url,
    GCE_METADATA_HOST: metadata.host,
    GOOGLE_CLOUD_PROJECT: 'my-project',
    JOBGATE_JOBS: '{"jobs":{"echo":{"job":"echo-job","container":"job"}}}'
  })
  t.teardown(() => { if (server.child.exitCode === null) server.child.kill('SIGKILL') })

  const response = await fetch(`${server.url}/v1/jobs/echo/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ args: ['hello', '--times=2'], env: { GREETING: 'hi there', REPORT_DATE: '2026-11-23' }, taskCount: 3, timeoutSeconds: 600 })
  })
  const run = await response.json() as Record<string, unknown>
  t.equal(response.status, 202, JSON.stringify(run))

  // Exactly one run request, exactly as the contract says (the job's reconciler lists its runs besides).
  const runs = runApi.received.filter(request => request.method === 'POST')
  t.equal(runs.length, 1, 'one run request to the Run API')
  const [upstream] = runs
  t.equal(upstream?.method, 'POST')
  t.equal(upstream?.url, '/apis/run.googleapis.com/v1/namespaces/my-project/jobs/echo-job:run')
  t.equal(upstream?.headers.authorization, `Bearer ${metadata.token}`)
  t.match(upstream?.headers['content-type'], /^application\/json/)
  const sent = JSON.parse(upstream?.body ?? '{}')
  // jobgate's own marker comes last: the run record's id, by which a run whose answer was lost is found again.
  const marker = sent.overrides?.containerOverrides?.[0]?.env?.at(-1)
  t.match(marker, { name: 'JOBGATE_RUN', value: /^echo-[a-z0-9]{10}$/ })
  t.equal(upstream?.body, JSON.stringify({
    overrides: {
      containerOverrides: [{ name: 'job', args: ['hello', '--times=2'], env: [{ name: 'GREETING', value: 'hi there' }, { name: 'REPORT_DATE', value: '2026-11-23' }, marker] }],
      taskCount: 3,
      timeoutSeconds: 600
    }
  }))
  t.equal(metadata.tokenRequests(), 1, 'the token came from the metadata stand-in')
  t.ok(metadata.received.every(r => r.headers['metadata-flavor'] === 'Google'))

  // The 202 body is a contract Run and Location points at it.
  t.match(run, {
    name: /^echo-job-[0-9a-f]{5}$/,
    job: 'echo',
    state: 'PENDING',
    createTime: String,
    taskCount: 3,
    runningCount: 0,
    succeededCount: 0,
    failedCount: 0,
    cancelledCount: 0
  })
  const name = String(run.name)
  t.equal(response.headers.get('location'), `/v1/jobs/echo/runs/${name}`)
  t.same(run.links, { self: `/v1/jobs/echo/runs/${name}`, logs: `/v1/jobs/echo/runs/${name}/logs` })

  t.same(await (await fetch(`${server.url}/readyz`)).json(), { status: 'ready' })

  // A long-poll is in flight when SIGTERM arrives: it is answered, then the process exits 0.
  const waiting = fetch(`${server.url}/v1/jobs/echo/runs/${name}?wait=20`)
  await new Promise(resolve => setTimeout(resolve, 300))
  const signalledAt = Date.now()
  server.child.kill('SIGTERM')
  const finished = await waiting
  t.equal(finished.status, 200, 'the in-flight request was finished')
  t.match(await finished.json(), { name, state: 'SUCCEEDED', succeededCount: 3 })
  const { code, signal } = await server.exited
  const took = Date.now() - signalledAt
  t.equal(code, 0, 'exit code 0')
  t.equal(signal, null)
  t.ok(took < 10_000, `exited within 10 s (${took} ms)`)
  t.notMatch(server.stderr(), /error|killed/i, 'no error on stderr')
  const logs = server.stdout.filter(line => line !== '').map(line => JSON.parse(line) as Record<string, unknown>)
  t.ok(logs.some(entry => entry.message === 'shutting down: finishing in-flight requests' && entry.severity === 'INFO'))
  t.notMatch(server.stdout.join('\n'), new RegExp(metadata.token), 'the access token is never logged')
  await t.rejects(fetch(`${server.url}/healthz`), 'no longer listening')
})
