import rateLimit from '@fastify/rate-limit'
import type { FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { ApiError } from '../errors.js'
import { callerKey } from '../policy/caller-key.js'

/** Per-caller budgets, each ONE counter shared by every route that spends it (route `preHandler` hooks). */
export interface RateBudgets {
  /** Run starts: REST, Pub/Sub push and Cloud Tasks spend the same budget. */
  runs: preHandlerAsyncHookHandler
  /** Reads of runs and their logs (get, ?wait, list, logs, events) and cancels. */
  reads: preHandlerAsyncHookHandler
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The app's rate budgets; routes spend one with `preHandler: app.budgets.runs` (or `.reads`). */
    budgets: RateBudgets
  }
}

export interface RateLimitOptions {
  runsPerMinute: number
  readsPerMinute: number
}

/** Principal AND tenant: two key entries sharing a principal name never share a budget. */
const byCaller = (request: FastifyRequest): string => callerKey(request.caller)

const exhausted = (what: string) => (_request: FastifyRequest, context: { max: number, ttl: number }): ApiError => {
  const retryAfterSeconds = Math.max(1, Math.ceil(context.ttl / 1000))
  return new ApiError('RESOURCE_EXHAUSTED', `rate limit: at most ${context.max} ${what} per minute per caller; retry in ${retryAfterSeconds} s`, { retryAfterSeconds })
}

/**
 * Counted once authentication and the schema passed (preHandler), per principal and tenant. Each
 * budget is made once: a per-route `config.rateLimit` would give every route (REST, Pub/Sub, Cloud
 * Tasks) a counter of its own. Past a budget, 429 with Retry-After in the contract's shape.
 */
export const rateLimitPlugin = fp<RateLimitOptions>(async (app, limits) => {
  await app.register(rateLimit, { global: false })
  app.decorate('budgets', {
    runs: app.rateLimit({ max: limits.runsPerMinute, timeWindow: 60_000, keyGenerator: byCaller, errorResponseBuilder: exhausted('runs') }),
    reads: app.rateLimit({ max: limits.readsPerMinute, timeWindow: 60_000, keyGenerator: byCaller, errorResponseBuilder: exhausted('reads') })
  })
}, { name: 'jobgate-rate-limit', fastify: '5.x', dependencies: ['jobgate-caller'] })
