import closeWithGrace from 'close-with-grace'
import { pino } from 'pino'
import { buildApp } from './app.js'
import { ConfigError } from './config-error.js'
import { loadConfig, type Config } from './config.js'
import { productionDeps } from './deps.js'
import { CachedTokenSource, metadataServerFetcher } from './google/token.js'
import { localBanner, startLocalMode, type LocalMode } from './local-mode.js'
import { loggerOptions } from './log.js'

/** The process: config, listen, graceful shutdown. Everything else lives in app.ts. */
async function main (): Promise<void> {
  let config: Config
  try {
    config = loadConfig(process.env)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`jobgate: configuration error: ${err.message}\n`)
    process.exit(78)
  }
  // Pretty lines for a person at a terminal; Cloud Logging JSON everywhere else.
  const logger = process.stdout.isTTY
    ? pino(loggerOptions(config.logLevel), pino.transport({ target: 'pino-pretty', options: { messageKey: 'message', ignore: 'severity' } }))
    : pino(loggerOptions(config.logLevel))
  let local: LocalMode | undefined
  if (config.mode === 'local') {
    local = await startLocalMode(config)
    config = local.config
  }
  let ready = true
  const deps = productionDeps(config, local === undefined ? undefined : new CachedTokenSource(metadataServerFetcher()))
  const app = await buildApp(config, { ...deps, logger, ready: () => ready })

  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    ready = false
    if (err !== undefined) logger.error({ err }, 'shutting down after an error')
    else logger.info({ signal }, 'shutting down: finishing in-flight requests')
    // A kept-alive connection would hold the close open until the 10 s kill: drop each one as soon as its last request is answered.
    const dropIdle = setInterval(() => { app.server.closeIdleConnections() }, 100)
    await app.close().finally(() => { clearInterval(dropIdle) })
    await deps.close()
    await local?.emulator.close()
  })

  await app.listen({ port: config.port, host: config.host })
  const address = app.server.address()
  const url = `http://${config.host}:${typeof address === 'object' && address !== null ? address.port : config.port}`
  logger.info({ mode: config.mode, jobs: [...config.catalog.keys()] }, `jobgate listening on ${url}`)
  if (local !== undefined) process.stderr.write(localBanner(url, local) + '\n')
}

await main()
