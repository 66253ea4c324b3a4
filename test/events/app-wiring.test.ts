/** The app's wiring of the event features, without sockets: store selection, routes in OpenAPI, redelivery mapping. */
import t from 'tap'
import type { FastifyBaseLogger } from 'fastify'
import type { CloudRunClient } from '../../api/cloudrun/client.js'
import { loadConfig, type Config } from '../../api/config.js'
import { ApiError } from '../../api/errors.js'
import { forRedelivery } from '../../api/push/redelivery.js'
import { build } from '../helper.js'
import { captureLogs } from '../helpers/log-capture.js'

const execution = { metadata: { name: 'echo-abcde', labels: { 'run.googleapis.com/job': 'echo' } }, spec: { taskCount: 1 }, status: {} }
let runs = 0
const unused = async (): Promise<never> => { throw new Error('not used') }
const cloudRun: CloudRunClient = {
  runJob: async () => {
    runs++
    return execution as any
  },
  getExecution: unused,
  listExecutions: unused,
  cancelExecution: unused,
  listTasks: unused
}

t.test('without a default project the memory store is opened, used by the REST route and closed with the app', async t => {
  const { project: _project, ...config } = loadConfig({ JOBGATE_MODE: 'local' })
  const logs = captureLogs()
  // Cloud mode: the Cloud Run client is replaced, no emulator is needed.
  const { app } = await build(t, { config: { ...config, mode: 'cloud' } as Config, services: { cloudRun, logs: { runEntries: unused }, logger: logs.logger } })
  t.match(logs.lines.find(line => line.store !== undefined), { store: 'memory', message: /memory \(one instance only\)/ })
  const send = async (): Promise<any> => await app.inject({ method: 'POST', url: '/v1/jobs/echo/runs', payload: {}, headers: { 'idempotency-key': 'k' } })
  const [first, second] = [await send(), await send()]
  t.equal(first.statusCode, 202)
  t.equal(second.headers['idempotency-replayed'], 'true')
  t.equal(runs, 1)

  const openapi = (await app.inject({ method: 'GET', url: '/openapi.json' })).json()
  t.ok(openapi.paths['/v1/push/pubsub/{job}']?.post, 'the Pub/Sub push route is documented')
  t.ok(openapi.paths['/v1/push/tasks/{job}']?.post, 'the Cloud Tasks route is documented')
  const headers = openapi.paths['/v1/jobs/{job}/runs'].post.parameters.filter((p: any) => p.in === 'header').map((p: any) => p.name)
  t.ok(headers.includes('idempotency-key'), 'Idempotency-Key is documented')
})

t.test('forRedelivery leaves what is not an ApiError alone', async t => {
  const logs = captureLogs()
  const bug = new TypeError('bug')
  t.equal(forRedelivery(bug, logs.logger as unknown as FastifyBaseLogger, 'x'), bug)
  const limited = new ApiError('RESOURCE_EXHAUSTED', 'busy', { retryAfterSeconds: 3 })
  t.equal(forRedelivery(limited, logs.logger as unknown as FastifyBaseLogger, 'x'), limited)
  t.equal(logs.lines.length, 1)
})
