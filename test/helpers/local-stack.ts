import { pino, type Logger } from 'pino'
import { buildApp } from '../../api/app.js'
import { loadConfig, type Config } from '../../api/config.js'
import { productionDeps } from '../../api/deps.js'
import { CachedTokenSource, metadataServerFetcher } from '../../api/google/token.js'
import { startLocalMode } from '../../api/local-mode.js'
import type { Emulator } from '../../emulator/index.js'

export interface LocalStack {
  /** http://127.0.0.1:PORT of the API. */
  url: string
  emulator: Emulator
  config: Config
}

interface Teardown { teardown: (fn: () => Promise<void> | void) => void }

/**
 * The API in local mode, listening on a free port, wired exactly as `npm start` wires it
 * (embedded emulator, production clients): what end-to-end tests drive over real sockets.
 */
export async function startLocalStack (t: Teardown, env: Record<string, string> = {}, logger: Logger = pino({ level: 'silent' })): Promise<LocalStack> {
  const local = await startLocalMode(loadConfig({ JOBGATE_MODE: 'local', ...env }))
  const deps = productionDeps(local.config, new CachedTokenSource(metadataServerFetcher()))
  const app = await buildApp(local.config, { ...deps, logger })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  t.teardown(async () => {
    await app.close()
    await deps.close()
    await local.emulator.close()
  })
  return { url: `http://127.0.0.1:${address.port}`, emulator: local.emulator, config: local.config }
}

/** JSON over real HTTP, returning status, headers and parsed body. */
export async function call (url: string, init: { method?: string, body?: unknown, headers?: Record<string, string> } = {}): Promise<{ status: number, headers: Headers, body: any }> {
  const response = await fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { ...(init.body !== undefined && { 'content-type': 'application/json' }), ...init.headers },
    ...(init.body !== undefined && { body: JSON.stringify(init.body) })
  })
  const text = await response.text()
  return { status: response.status, headers: response.headers, body: text === '' ? undefined : JSON.parse(text) }
}
