import { randomBytes } from 'node:crypto'
import type { Execution, RunJobRequest } from '../../api/cloudrun/execution.js'
import { sendJson, startStandIn, type StandIn } from './http-standin.js'

const NAMESPACES = '/apis/run.googleapis.com/v1/namespaces/'

/**
 * The Cloud Run Admin API v1, just enough for jobgate: `jobs/{job}:run` creates an execution,
 * `executions/{name}` reads it, `executions` lists them (newest first, as Cloud Run does). An
 * execution runs for `runForMs`, then has succeeded.
 */
export async function startRunApiStandIn (options: { runForMs?: number } = {}): Promise<StandIn> {
  const runForMs = options.runForMs ?? 1000
  const executions = new Map<string, { execution: Execution, startedAt: number }>()
  return await startStandIn((request, response) => {
    const url = new URL(request.url, 'http://standin')
    if (!url.pathname.startsWith(NAMESPACES)) { sendJson(response, 404, { error: { code: 404, status: 'NOT_FOUND', message: 'no such API' } }); return }
    const [project, collection, name] = url.pathname.slice(NAMESPACES.length).split('/')
    const run = request.method === 'POST' && collection === 'jobs' ? /^([a-z][-a-z0-9]*):run$/.exec(name ?? '') : null
    if (run?.[1] !== undefined) {
      const body = JSON.parse(request.body === '' ? '{}' : request.body) as RunJobRequest
      const executionName = `${run[1]}-${randomBytes(3).toString('hex').slice(0, 5)}`
      const execution: Execution = {
        metadata: { name: executionName, namespace: project, creationTimestamp: new Date().toISOString(), labels: { 'run.googleapis.com/job': run[1] } },
        spec: { taskCount: body.overrides?.taskCount ?? 1 },
        status: {}
      }
      executions.set(executionName, { execution, startedAt: Date.now() })
      sendJson(response, 200, execution)
      return
    }
    const now = (stored: { execution: Execution, startedAt: number }): Execution => {
      const done = Date.now() - stored.startedAt >= runForMs
      const taskCount = stored.execution.spec?.taskCount ?? 1
      return {
        ...stored.execution,
        status: done
          ? { conditions: [{ type: 'Completed', status: 'True' }, { type: 'Started', status: 'True' }], succeededCount: taskCount }
          : { conditions: [{ type: 'Completed', status: 'Unknown' }, { type: 'Started', status: 'True' }], runningCount: taskCount }
      }
    }
    if (request.method === 'GET' && collection === 'executions' && name === undefined) {
      sendJson(response, 200, { items: [...executions.values()].reverse().map(now) })
      return
    }
    const stored = request.method === 'GET' && collection === 'executions' ? executions.get(name ?? '') : undefined
    if (stored !== undefined) {
      sendJson(response, 200, now(stored))
      return
    }
    sendJson(response, 404, { error: { code: 404, status: 'NOT_FOUND', message: `${url.pathname} not found` } })
  })
}
