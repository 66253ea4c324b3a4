/** RunStarter's rare paths: the idempotency store failing after the run started, and an unexpected error. */
import t from 'tap'
import type { FastifyBaseLogger } from 'fastify'
import type { JobEntry } from '../../api/catalog.js'
import type { CloudRunClient } from '../../api/cloudrun/client.js'
import { ApiError } from '../../api/errors.js'
import { MemoryStore } from '../../api/idempotency/index.js'
import { RunStarter } from '../../api/runs/starter.js'
import { auditLines, captureLogs } from '../helpers/log-capture.js'

const entry: JobEntry = { id: 'echo', project: 'local-project', region: 'us-central1', job: 'echo', env: {}, args: { allow: true, maxItems: 10 }, maxTaskCount: 10, maxTimeoutSeconds: 60 }
const execution = { metadata: { name: 'echo-abcde', labels: { 'run.googleapis.com/job': 'echo' } }, spec: { taskCount: 1 }, status: {} }
const timings = { ttlMs: 60_000, waitMs: 0, staleMs: 60_000 }

/** A Cloud Run client that starts one fixed execution, or fails as told. */
function cloudRun (runJob: CloudRunClient['runJob']): CloudRunClient {
  const unused = async (): Promise<never> => { throw new Error('not used') }
  return { runJob, getExecution: unused, listExecutions: unused, cancelExecution: unused, listTasks: unused }
}

/** A memory store whose writes after the claim fail, as a store losing its connection mid-request would. */
class FailingWrites extends MemoryStore {
  override async finish (): Promise<void> { throw new Error('store down') }
  override async release (): Promise<void> { throw new Error('store down') }
}

t.test('the run started but recording it failed: the caller still gets the run, the failure is logged', async t => {
  const logs = captureLogs()
  const starter = new RunStarter(cloudRun(async () => execution as any), 2, { ...timings, store: new FailingWrites() })
  const started = await starter.start({ entry, request: {}, caller: { name: 'ci' }, log: logs.logger as unknown as FastifyBaseLogger, idempotencyKey: 'k1' })
  t.equal(started.run.name, 'echo-abcde')
  t.equal(started.replayed, false)
  const line = logs.lines.find(l => l.operation === 'finish')
  t.match(line, { severity: 'ERROR', idempotencyKey: 'k1', message: /could not finish key "k1"/ })
})

t.test('a proven failure whose release fails is logged too', async t => {
  const logs = captureLogs()
  const refuse = async (): Promise<never> => { throw new ApiError('UNAVAILABLE', 'down', { runMayHaveStarted: false }) }
  const starter = new RunStarter(cloudRun(refuse), 2, { ...timings, store: new FailingWrites() })
  const error = await starter.start({ entry, request: {}, caller: { name: 'ci' }, log: logs.logger as unknown as FastifyBaseLogger, idempotencyKey: 'k2' }).catch((err: unknown) => err)
  t.equal((error as ApiError).status, 'UNAVAILABLE')
  t.ok(logs.lines.some(l => l.operation === 'release'))
})

t.test('an unexpected error is audited as INTERNAL and rethrown', async t => {
  const logs = captureLogs()
  const starter = new RunStarter(cloudRun(async () => { throw new TypeError('bug') }), 2, { ...timings, store: new MemoryStore() })
  await t.rejects(starter.start({ entry, request: {}, caller: { name: 'ci' }, log: logs.logger as unknown as FastifyBaseLogger }), TypeError)
  t.match(auditLines(logs.lines), [{ outcome: 'INTERNAL', severity: 'WARNING' }])
})
