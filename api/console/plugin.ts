import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { ApiError } from '../errors.js'

/** The console's files, served as written (plain ES modules and CSS): no build step, nothing from elsewhere. */
export const CONSOLE_ASSETS: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
  'icon.svg': 'image/svg+xml',
  'activity.js': 'text/javascript; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'api.js': 'text/javascript; charset=utf-8',
  'form.js': 'text/javascript; charset=utf-8',
  'format.js': 'text/javascript; charset=utf-8',
  'jobs.js': 'text/javascript; charset=utf-8',
  'run.js': 'text/javascript; charset=utf-8',
  'run-watch.js': 'text/javascript; charset=utf-8',
  'sse.js': 'text/javascript; charset=utf-8',
  'tasks.js': 'text/javascript; charset=utf-8',
  'view.js': 'text/javascript; charset=utf-8'
}

/** Only this origin's own files and API: no inline script or style, no frames, no form posts elsewhere. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join('; ')

interface Asset { body: Buffer, type: string, etag: string }

/** The folder is copied next to the compiled plugin by `npm run build`, so dist/ is self-contained. */
const PUBLIC_DIR = new URL('./public/', import.meta.url)

async function loadAssets (): Promise<Map<string, Asset>> {
  const entries = await Promise.all(Object.entries(CONSOLE_ASSETS).map(async ([name, type]) => {
    const body = await readFile(new URL(name, PUBLIC_DIR))
    return [name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` }] as const
  }))
  return new Map(entries)
}

/** Serves the browser console at /console (and / redirects there); the page itself needs no credentials. */
export const consolePlugin: FastifyPluginAsync = async app => {
  // Read on first use, not at start: the console must not slow the API's cold start.
  let assets: Promise<Map<string, Asset>> | undefined
  const send = async (request: FastifyRequest, reply: FastifyReply, name: string): Promise<FastifyReply> => {
    assets ??= loadAssets()
    const asset = (await assets).get(name)
    if (asset === undefined) throw new ApiError('NOT_FOUND', `no console file "${name}"`)
    void reply.headers({
      'content-security-policy': CONTENT_SECURITY_POLICY,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-cache',
      etag: asset.etag
    })
    if (request.headers['if-none-match'] === asset.etag) return await reply.code(304).send()
    return await reply.type(asset.type).send(asset.body)
  }
  const route = { schema: { hide: true }, config: { public: true } }
  app.get('/', route, async (_request, reply) => await reply.redirect('/console', 302))
  app.get('/console', route, async (request, reply) => await send(request, reply, 'index.html'))
  app.get<{ Params: { file: string } }>('/console/:file', route, async (request, reply) => await send(request, reply, request.params.file))
}
