/**
 * The one way a test gets an in-process jobgate: `build(t, options)` wires it exactly as
 * `api/server.ts` does (loadConfig → createServices → buildApp) and closes it on t.teardown.
 */
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { pino } from 'pino'
import { buildApp } from '../api/app.js'
import type { RequestHeaders } from '../api/auth/index.js'
import { loadConfig, type Config } from '../api/config.js'
import { loggerOptions } from '../api/plugins/request-log.js'
import type { Caller } from '../api/policy/run-policy.js'
import type { CatalogEntry } from '../api/schemas/catalog.js'
import { createServices, type LogReader, type ServiceOverrides, type Services } from '../api/services.js'
import type { Emulator } from '../emulator/index.js'
import { FakeCloudRun } from './helpers/fake-cloud-run.js'

/** Log lines an app wrote, as written (JSON text) and parsed. */
export class CapturedLog {
  readonly lines: string[] = []
  readonly stream = new Writable({
    write: (chunk: Buffer, _encoding, done) => {
      this.lines.push(...chunk.toString('utf8').split('\n').filter(line => line !== ''))
      done()
    }
  })

  get entries (): Array<Record<string, unknown>> {
    return this.lines.map(line => JSON.parse(line) as Record<string, unknown>)
  }

  get text (): string {
    return this.lines.join('\n')
  }
}

/** A logs client with nothing to say: the logs route has its own tests. */
export const noLogs: LogReader = { runEntries: async () => ({ entries: [] }) }

/** The unit app's environment: cloud mode, project `p`, region europe-west1, no authentication. */
export const UNIT_ENV: Readonly<Record<string, string>> = {
  JOBGATE_MODE: 'cloud',
  JOBGATE_AUTH: 'none',
  JOBGATE_ALLOW_UNAUTHENTICATED: 'true',
  GOOGLE_CLOUD_PROJECT: 'p',
  CLOUD_RUN_REGION: 'europe-west1'
}

export interface BuildOptions {
  /**
   * The environment loadConfig reads. Absent: the unit app (UNIT_ENV, Cloud Run replaced by a
   * FakeCloudRun, no logs). Present: exactly these variables, with the production clients
   * (`JOBGATE_MODE: 'local'` starts the embedded emulator, as `npm start` does).
   */
  env?: Record<string, string>
  /** The catalog's jobs (JOBGATE_JOBS); default for the unit app: `echo`. */
  jobs?: Record<string, CatalogEntry>
  /** An already loaded configuration; wins over `env` and `jobs`. */
  config?: Config
  /** Parts to use instead of building them (see createServices). */
  services?: ServiceOverrides
  /** Who the caller is; job `principals` are not under test with it (every job stays usable). */
  authenticate?: (headers: RequestHeaders) => Promise<Caller>
  ready?: () => boolean
  /** Level of the captured log (`log`); default info. Ignored when `services.logger` is given. */
  logLevel?: string
  /** Listen on a free loopback port (`url`), for tests that need real sockets. */
  listen?: boolean
}

export interface Built {
  app: FastifyInstance
  services: Services
  /** The configuration as used (local mode: endpoints point at the emulator). */
  config: Config
  /** What the app logged, unless `services.logger` was given. */
  log: CapturedLog
  /** The fake Cloud Run client of the unit app (unused when `env` or `services.cloudRun` is given). */
  fake: FakeCloudRun
  /** `http://127.0.0.1:<port>` with `listen`, else ''. */
  url: string
  /** The embedded Cloud Run emulator (local mode only; throws otherwise). */
  emulator: Emulator
}

interface Teardown { teardown: (fn: () => Promise<void> | void) => void }

function configFor (options: BuildOptions): Config {
  if (options.config !== undefined) return options.config
  const env = options.env ?? UNIT_ENV
  const jobs = options.jobs ?? (options.env === undefined ? { echo: { job: 'echo-job', container: 'job' } } : undefined)
  return loadConfig({ ...env, ...(jobs !== undefined && { JOBGATE_JOBS: JSON.stringify({ jobs }) }) })
}

/** jobgate in this process, wired as the server wires it, closed when `t` ends. */
export async function build (t: Teardown, options: BuildOptions = {}): Promise<Built> {
  const log = new CapturedLog()
  const fake = new FakeCloudRun()
  const logger: Logger = options.services?.logger ?? pino(loggerOptions(options.logLevel ?? 'info'), log.stream)
  const overrides: ServiceOverrides = {
    ...(options.env === undefined && options.config === undefined && { cloudRun: fake, reconcilerCloudRun: fake.unrecorded, logs: noLogs }),
    ...options.services,
    logger
  }
  const authenticate = options.authenticate
  if (authenticate !== undefined) {
    overrides.authenticator = { anonymous: true, authenticate: async headers => ({ via: 'apikey', ...(await authenticate(headers)) }) }
  }
  const services = await createServices(configFor(options), overrides)
  let app: FastifyInstance
  try {
    app = await buildApp(services, options.ready === undefined ? {} : { ready: options.ready })
  } catch (err) {
    await services.close()
    throw err
  }
  // The app first (in-flight requests finish), then what it used.
  t.teardown(async () => {
    await app.close()
    await services.close()
  })
  let url = ''
  if (options.listen === true) {
    await app.listen({ port: 0, host: '127.0.0.1' })
    const address = app.server.address()
    if (address === null || typeof address === 'string') throw new Error('no port')
    url = `http://127.0.0.1:${address.port}`
  }
  return {
    app,
    services,
    config: services.config,
    log,
    fake,
    url,
    get emulator (): Emulator {
      if (services.emulator === undefined) throw new Error('no emulator: build(t) starts one in local mode only')
      return services.emulator
    }
  }
}
