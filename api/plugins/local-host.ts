import fp from 'fastify-plugin'
import { ApiError } from '../errors.js'
import { isLocalHostHeader } from '../loopback.js'

/**
 * Local mode's guard against DNS rebinding: a page on another site whose name was made to resolve to
 * 127.0.0.1 sends its own name as Host. Requests addressed to anything but a loopback name, an IP
 * address, HOST or Cloud Shell's Web Preview are refused (403), before authentication and routing.
 */
export const localHostPlugin = fp<{ listenHost: string }>(async (app, { listenHost }) => {
  app.addHook('onRequest', async request => {
    const { host } = request.headers
    if (isLocalHostHeader(host, listenHost)) return
    throw new ApiError('PERMISSION_DENIED', `Host "${String(host).slice(0, 100)}": local mode answers only requests addressed to localhost, ` +
      'an IP address, HOST or Cloud Shell\'s Web Preview (a guard against DNS rebinding); use http://127.0.0.1 with the port jobgate listens on')
  })
}, { name: 'jobgate-local-host', fastify: '5.x' })
