import rateLimit from '@fastify/rate-limit'
import fp from 'fastify-plugin'
import { ApiError } from '../errors.js'

/**
 * Per principal, counted only on routes that start runs: they opt in with
 * `config: { rateLimit: { max, timeWindow } }`. Past it, 429 with Retry-After in the contract's shape.
 */
export const rateLimitPlugin = fp(async app => {
  await app.register(rateLimit, {
    global: false,
    hook: 'preHandler',
    keyGenerator: request => request.caller.name,
    errorResponseBuilder: (_request, context) => new ApiError('RESOURCE_EXHAUSTED',
      `rate limit: at most ${context.max} runs per minute per caller; retry in ${Math.ceil(context.ttl / 1000)} s`,
      { retryAfterSeconds: Math.ceil(context.ttl / 1000) })
  })
}, { name: 'jobgate-rate-limit', fastify: '5.x', dependencies: ['jobgate-caller'] })
