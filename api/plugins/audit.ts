import fp from 'fastify-plugin'
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import { auditRefusal, auditRunAttempt, type AuditRecord, type Trigger } from '../runs/audit.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Routes that start runs name their trigger: every attempt gets one audit line. */
    auditTrigger?: Trigger
  }
  interface FastifyRequest {
    /** This request's run attempt has its audit line (written by the run path). */
    runAudited: boolean
  }
}

type AuditSink<R> = (log: FastifyBaseLogger, record: R) => void

/** An audit sink for a request: writes the line with `write` and remembers it, so the refusal hook stays quiet. */
export const auditedBy = <R> (request: FastifyRequest, write: AuditSink<R>): AuditSink<R> => (log, record) => {
  request.runAudited = true
  write(log, record)
}

/** The run path's audit sink for a request. */
export const auditFor = (request: FastifyRequest): AuditSink<AuditRecord> => auditedBy(request, auditRunAttempt)

/**
 * One audit line per run attempt on routes with `config.auditTrigger`: the run path writes it
 * (see auditFor); an attempt refused before it (401, 403, 429, malformed body) gets it here.
 */
export const auditPlugin = fp(async app => {
  app.decorateRequest('runAudited', false)
  app.addHook('onError', async (request, _reply, error) => {
    const trigger = request.routeOptions.config.auditTrigger
    if (trigger !== undefined && !request.runAudited) auditRefusal(request, trigger, error)
  })
}, { name: 'jobgate-audit', fastify: '5.x', dependencies: ['jobgate-caller'] })
