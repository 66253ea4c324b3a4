import type { RequestHeaders } from '../../api/auth/index.js'
import type { Caller } from '../../api/policy/run-policy.js'
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { buildApp, type AppDeps } from '../../api/app.js'
import type { CloudRunClient } from '../../api/cloudrun/client.js'
import { loadConfig, type Config } from '../../api/config.js'
import { loggerOptions } from '../../api/log.js'
import type { CatalogEntry } from '../../api/schemas/catalog.js'
import { FakeCloudRun } from './fake-cloud-run.js'

/** Log lines a test app wrote, as written (JSON text) and parsed. */
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
export const noLogs: AppDeps['logs'] = { runEntries: async () => ({ entries: [] }) }

export interface TestAppOptions {
  jobs?: Record<string, CatalogEntry>
  /** Defaults to a fresh FakeCloudRun. */
  cloudRun?: CloudRunClient
  /** Who the caller is; job `principals` are not under test with it (every job stays usable). */
  authenticate?: (headers: RequestHeaders) => Promise<Caller>
  ready?: () => boolean
  logLevel?: string
}

export interface TestApp {
  app: FastifyInstance
  config: Config
  log: CapturedLog
  /** The fake Cloud Run client, when none was passed in. */
  fake: FakeCloudRun
}

/** The real app, configured the way the server would be (cloud mode, project `p`, region europe-west1), logging into memory. */
export async function buildTestApp (options: TestAppOptions = {}): Promise<TestApp> {
  const config = loadConfig({
    JOBGATE_MODE: 'cloud',
    JOBGATE_AUTH: 'none',
    JOBGATE_ALLOW_UNAUTHENTICATED: 'true',
    GOOGLE_CLOUD_PROJECT: 'p',
    CLOUD_RUN_REGION: 'europe-west1',
    JOBGATE_JOBS: JSON.stringify({ jobs: options.jobs ?? { echo: { job: 'echo-job', container: 'job' } } })
  })
  const log = new CapturedLog()
  const fake = new FakeCloudRun()
  const deps: AppDeps = {
    cloudRun: options.cloudRun ?? fake,
    logs: noLogs,
    logger: pino(loggerOptions(options.logLevel ?? 'info'), log.stream)
  }
  const authenticate = options.authenticate
  if (authenticate !== undefined) deps.authenticator = { anonymous: true, authenticate: async headers => ({ via: 'apikey', ...(await authenticate(headers)) }) }
  if (options.ready !== undefined) deps.ready = options.ready
  const app = await buildApp(config, deps)
  return { app, config, log, fake }
}
