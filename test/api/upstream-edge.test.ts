import t, { type Test } from 'tap'
import { build, UNIT_ENV } from '../helper.js'
import { FakeTokenSource } from '../helpers/fake-token-source.js'
import { startStandIn, type ReceivedRequest } from '../helpers/http-standin.js'

const TOKEN = 'ya29.edge-secret-token'

/** Google's error body with an ErrorInfo detail. */
const googleError = (code: number, status: string, message: string, reason: string): string => JSON.stringify({
  error: { code, status, message, details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason, domain: 'run.googleapis.com' }] }
})

/**
 * The production services against a Cloud Run stand-in: a list answered 503 once, then an empty page;
 * a run read answered 403 (IAM_PERMISSION_DENIED), and another 500 (BACKEND_ERROR) every time.
 */
async function setup (t: Test): Promise<Pick<Awaited<ReturnType<typeof build>>, 'app' | 'log'> & { upstream: ReceivedRequest[] }> {
  let lists = 0
  const standIn = await startStandIn((request, response) => {
    response.setHeader('content-type', 'application/json')
    if (request.url.includes('/executions?') && lists++ === 0) response.writeHead(503).end(googleError(503, 'UNAVAILABLE', 'busy', 'BACKEND_BUSY'))
    else if (request.url.includes('/executions?')) response.writeHead(200).end('{}')
    else if (request.url.endsWith('/executions/denied-1')) response.writeHead(403).end(googleError(403, 'PERMISSION_DENIED', 'Permission denied', 'IAM_PERMISSION_DENIED'))
    else response.writeHead(500).end(googleError(500, 'INTERNAL', 'boom', 'BACKEND_ERROR'))
  })
  t.teardown(standIn.close)
  const built = await build(t, {
    env: { ...UNIT_ENV, CLOUD_RUN_API_ENDPOINT: standIn.url, JOBGATE_JOBS: JSON.stringify({ jobs: { echo: { job: 'echo-job' } } }) },
    services: { tokens: new FakeTokenSource(TOKEN) },
    logLevel: 'debug'
  })
  return { app: built.app, log: built.log, upstream: standIn.received }
}

t.test('createServices logs each retry once, with attempt, reason and delay, never the token or the query', async t => {
  const { app, log, upstream } = await setup(t)
  const response = await app.inject({ method: 'GET', url: '/v1/jobs/echo/runs?pageSize=3' })
  t.equal(response.statusCode, 200, response.body)
  t.equal(upstream.length, 2, 'one retry')
  const retries = log.entries.filter(line => line.attempt !== undefined)
  t.equal(retries.length, 1, 'one retry line')
  t.match(retries[0], { severity: 'WARNING', attempt: 1, reason: 'http 503 BACKEND_BUSY', delayMs: Number, service: 'Cloud Run', operation: 'executions.list', method: 'GET' })
  t.notMatch(log.text, new RegExp(`${TOKEN}|labelSelector`), 'no token, no query string')
})

t.test('the edge keeps the answer byte for byte and puts ErrorInfo.reason in the log only', async t => {
  const { app, log } = await setup(t)
  const denied = await app.inject({ method: 'GET', url: '/v1/jobs/echo/runs/denied-1' })
  t.equal(denied.statusCode, 403)
  t.same(denied.json(), {
    error: {
      code: 403,
      status: 'PERMISSION_DENIED',
      message: 'jobgate\'s service account lacks run.executions.get on Cloud Run job "echo-job" (project "p", region "europe-west1"): grant roles/run.viewer on that job to it. Cloud Run said: Permission denied'
    }
  })
  t.notMatch(denied.body, /IAM_PERMISSION_DENIED/)
  t.match(log.entries.find(line => line.status === 'PERMISSION_DENIED'), {
    severity: 'WARNING', upstream: { service: 'Cloud Run', reason: 'http 403 IAM_PERMISSION_DENIED' }
  }, 'Google refusing jobgate\'s service account is the operator\'s to fix: WARNING, with the reason')

  const failed = await app.inject({ method: 'GET', url: '/v1/jobs/echo/runs/broken-1' })
  t.equal(failed.statusCode, 502)
  t.equal(failed.json().error.message, 'Cloud Run failed (HTTP 500): boom.')
  t.notMatch(failed.body, /BACKEND_ERROR/)
  const line = log.entries.find(entry => entry.status === 'UNAVAILABLE')
  t.match(line, { upstream: { reason: 'http 500 BACKEND_ERROR' }, err: { type: 'UpstreamError', reason: 'BACKEND_ERROR', kind: 'http', httpStatus: 500 } })
  t.equal(log.entries.filter(entry => entry.attempt !== undefined).length, 3, 'a read is retried three times, one line each')
})
