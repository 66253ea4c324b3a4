import fp from 'fastify-plugin'
import { ANONYMOUS, type Authenticator, type Principal } from '../auth/index.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling, set before any handler runs (ANONYMOUS on public routes). */
    caller: Principal
  }
  interface FastifyContextConfig {
    /** Served without authentication (health, docs). */
    public?: boolean
  }
}

export interface CallerOptions {
  authenticator: Authenticator
}

/** Authenticates every request to a non-public route before anything else looks at it; a failure is a 401 in the contract's shape. */
export const callerPlugin = fp<CallerOptions>(async (app, { authenticator }) => {
  app.decorateRequest<Principal | null>('caller', null)
  app.addHook('onRequest', async request => {
    // Set first, so a refusal's audit line (onError) can name somebody even when authentication throws.
    request.caller = ANONYMOUS
    if (request.routeOptions.config.public === true) return
    request.caller = await authenticator.authenticate(request.headers, request.raw.rawHeaders)
  })
}, { name: 'jobgate-caller', fastify: '5.x' })
