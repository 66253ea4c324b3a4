import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { toRun } from '../cloudrun/mapping.js'
import { ApiError } from '../errors.js'
import { callerKey } from '../policy/caller-key.js'
import { maySeeRun } from '../policy/run-access.js'
import { auditFor } from '../plugins/audit.js'
import { auditCancel } from '../runs/audit.js'
import { runRequestRoute } from '../runs/request-check.js'
import { listVisibleRuns } from '../runs/run-list.js'
import { READ_ERRORS, START_RUN_ERRORS } from '../schemas/error.js'
import { JobParams, Run, RunList, RunParams, RunRequest } from '../schemas/run.js'
import type { RouteContext } from './context.js'
import { heldRead, idempotencyKeyOf, jsonRequired, WaitQuery } from './request-parts.js'
import { sendStarted } from './started.js'

export const runRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, context) => {
  const { access, cloudRun, starter, budgets, waits, live, askerFor, pages, queued } = context
  app.post('/v1/jobs/:job/runs', {
    config: { auditTrigger: 'api' },
    preHandler: budgets.runs,
    validatorCompiler: runRequestRoute,
    schema: {
      summary: 'Start a run of a job, with per-run overrides',
      params: JobParams,
      headers: Type.Object({
        'idempotency-key': Type.Optional(Type.String({ description: 'repeats with the same key and body return the first response (header Idempotency-Replayed: true) and start nothing; kept 24 h' }))
      }),
      body: Type.Optional(RunRequest),
      response: { 202: Run, ...START_RUN_ERRORS }
    },
    // A run request is JSON: a body-less or form POST (what any web page can send to a laptop's jobgate) starts nothing.
    preValidation: async request => {
      if (request.body === undefined) throw jsonRequired('a run request is a JSON object', '({} for no overrides)')
    }
  }, async (request, reply) => {
    const entry = access.entryFor(request.params.job, request.caller)
    const key = idempotencyKeyOf(request.headers)
    const body = request.body ?? {}
    const started = await starter.start({
      entry,
      request: body,
      caller: request.caller,
      log: request.log,
      audit: auditFor(request),
      ...(key !== undefined && { idempotencyKey: key })
    })
    return await sendStarted(reply, started, 202)
  })

  app.get('/v1/jobs/:job/runs/:run', {
    preHandler: budgets.reads,
    schema: {
      summary: 'Read a run; ?wait=N holds the request until the run ends or N seconds pass',
      params: RunParams,
      querystring: WaitQuery,
      response: { 200: Run, ...READ_ERRORS }
    }
  }, async (request, reply) => {
    const entry = access.entryFor(request.params.job, request.caller)
    const { caller } = request
    return await heldRead(waits, caller, request.query.wait, reply.raw, async (waitMs, signal): Promise<Run> => {
      const startedAt = Date.now()
      // A queued run is its record until it starts (`?wait` holds while it waits its turn); then its execution.
      const resolved = await queued.resolve(entry, caller, request.params.run, { waitMs, signal })
      if ('unstarted' in resolved) return await queued.runOf(resolved.unstarted)
      const name = resolved.execution
      const asker = askerFor(entry, caller, name)
      const left = waitMs - (Date.now() - startedAt)
      // Every reader of a run shares one watcher and the finished-run cache (api/live/).
      if (waitMs === 0 || left <= 0) return await live.readRun(entry, name, asker)
      return await live.waitRun(entry, name, { waitMs: left, signal, asker })
    })
  })

  app.get('/v1/jobs/:job/runs', {
    preHandler: budgets.reads,
    schema: {
      summary: 'List a job\'s runs, newest first',
      params: JobParams,
      querystring: Type.Object({
        pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
        pageToken: Type.Optional(Type.String({ maxLength: 2048, pattern: '^[A-Za-z0-9_=+/.-]*$' }))
      }, { additionalProperties: false }),
      response: { 200: RunList, ...READ_ERRORS }
    }
  }, async request => {
    const entry = access.entryFor(request.params.job, request.caller)
    const { caller } = request
    const reader = callerKey(caller)
    // Another tenant's runs are skipped (reading on within the caller's share); the token is sealed by jobgate.
    const page = await listVisibleRuns({
      pageSize: request.query.pageSize ?? 20,
      ...(request.query.pageToken !== undefined && { pageToken: request.query.pageToken }),
      binding: JSON.stringify([reader, entry.id]),
      visible: execution => maySeeRun(entry, caller, execution),
      readPage: async page => await live.callCloudRun(reader, async () => await cloudRun.listExecutions(entry, page))
    }, pages)
    const started = page.executions.map(execution => toRun(entry.id, execution))
      .sort((a, b) => (b.createTime ?? '').localeCompare(a.createTime ?? ''))
    // The first page shows the caller's queued runs first (newest first, like the rest): they run after everything listed.
    const waiting = request.query.pageToken === undefined ? await queued.list(entry, caller, request.query.pageSize ?? 20) : []
    const runs = [...waiting, ...started]
    return page.nextPageToken === undefined ? { runs } : { runs, nextPageToken: page.nextPageToken }
  })

  app.post('/v1/jobs/:job/runs/:run/cancel', {
    preHandler: budgets.reads,
    schema: { summary: 'Cancel a run', params: RunParams, response: { 200: Run, ...READ_ERRORS } },
    onError: async (request, reply, error) => { auditCancel(request, reply, error) }
  }, async request => {
    const entry = access.entryFor(request.params.job, request.caller)
    let resolved = await queued.resolve(entry, request.caller, request.params.run)
    if ('unstarted' in resolved) {
      const outcome = await queued.cancel(entry, request.caller, resolved.unstarted)
      if ('run' in outcome) {
        auditCancel(request)
        return outcome.run
      }
      resolved = outcome
      if ('unstarted' in resolved) {
        throw new ApiError('UNAVAILABLE', `run "${request.params.run}" is starting; retry the cancel`, { retryAfterSeconds: 1 })
      }
    }
    const name = resolved.execution
    const asker = askerFor(entry, request.caller, name)
    // Known and visible first (a missing run and another tenant's answer alike); then Cloud Run's get and cancel on the caller's share.
    await live.runs.look(entry, name, asker)
    const execution = await live.callCloudRun(asker.reader, async () => await cloudRun.cancelExecution(entry, name, asker.see), 2)
    live.observe(entry, execution)
    auditCancel(request)
    return toRun(entry.id, execution)
  })
}
