import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { ConfigError } from './config-error.js'
import { loadConfig } from './config.js'
import { listenError } from './listen-error.js'
import { createLogger } from './plugins/request-log.js'
import { createServices, type Services } from './services.js'

/** A bad setting ends the process with one line naming the variable (exit 78, EX_CONFIG). */
async function configured<T> (step: () => T | Promise<T>): Promise<T> {
  try {
    return await step()
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`jobgate: configuration error: ${err.message}\n`)
    process.exit(78)
  }
}

/** The process: config, services, app, listen, graceful shutdown. */
async function main (): Promise<void> {
  const config = await configured(() => loadConfig(process.env))
  const logger = createLogger(config.logLevel, process.stdout.isTTY)
  const services: Services = await configured(async () => await createServices(config, { logger }))
  let ready = true
  const app = await buildApp(services, { ready: () => ready })

  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    ready = false
    if (err !== undefined) logger.error({ err }, 'shutting down after an error')
    else logger.info({ signal }, 'shutting down: finishing in-flight requests')
    // A kept-alive connection would hold the close open until the 10 s kill: drop each one as soon as its last request is answered.
    const dropIdle = setInterval(() => { app.server.closeIdleConnections() }, 100)
    await app.close().finally(() => { clearInterval(dropIdle) })
    await services.close()
  })

  const { emulator } = services
  // Local mode only (loaded with the emulator): a Cloud Run instance never loads it.
  const localBanner = emulator === undefined ? undefined : (await import('./local-mode.js')).localBanner
  const { host, port } = services.config
  await configured(async () => await app.listen({ port, host }).catch((err: unknown) => { throw listenError(err, host, port) }))
  const address = app.server.address()
  const url = `http://${host}:${typeof address === 'object' && address !== null ? address.port : port}`
  logger.info({ mode: config.mode, jobs: [...config.catalog.keys()] }, `jobgate listening on ${url}`)
  if (emulator !== undefined && localBanner !== undefined) process.stderr.write(localBanner(url, { config: services.config, emulator }) + '\n')
}

await main()
