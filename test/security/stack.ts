import { randomBytes } from 'node:crypto'
import type { Test } from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { hashApiKey } from '../../api/auth/index.js'
import type { CloudRunClient } from '../../api/cloudrun/client.js'
import { CachedTokenSource, metadataServerFetcher } from '../../api/google/token.js'
import { startEmulator, type Emulator, type EmulatorJob, type RecordedRequest } from '../../emulator/index.js'
import { build } from '../helper.js'
import { AUDIENCE, EMAIL, newSigningKey, startCertsServer, type CertsServer, type SigningKey } from '../auth/google-fixture.js'

export const PROJECT = 'sec-project'
export const REGION = 'europe-west1'
export { AUDIENCE, EMAIL }

/** Fresh random keys per process: a leak search can only find them where they really went. */
const newKey = (): string => `jg_${randomBytes(24).toString('base64url')}`
export const KEYS = { ci: newKey(), acme: newKey(), globex: newKey(), ops: newKey(), outsider: newKey() }

/** The key table as an operator writes it: hashes only. */
const KEY_TABLE = {
  keys: [
    { sha256: hashApiKey(KEYS.ci), principal: 'ci' },
    { sha256: hashApiKey(KEYS.acme), principal: 'acme-ci', tenant: 'acme' },
    { sha256: hashApiKey(KEYS.globex), principal: 'globex-ci', tenant: 'globex' },
    { sha256: hashApiKey(KEYS.ops), principal: 'ops', tenantFree: true },
    { sha256: hashApiKey(KEYS.outsider), principal: 'outsider' }
  ]
}

/**
 * The catalog under test: `echo` for the CI principals and every verified service account of
 * ci-project, `tenant-echo` tenant-scoped, `restricted` with a narrow policy (the fuzz target),
 * `burst` whose container is `true` (cheap enough to start 60 times), `locked` open to nobody.
 */
export const CATALOG = {
  jobs: {
    echo: { job: 'echo-job', env: { allow: ['*'] }, principals: ['ci', 'ops', '*@ci-project.iam.gserviceaccount.com'] },
    'tenant-echo': { env: { tenantKey: 'TENANT_ID', allow: ['REPORT_*', 'ECHO_*'] }, principals: ['acme-ci', 'globex-ci', 'ops', 'ci'] },
    restricted: {
      env: { allow: ['DATE', 'REPORT_*'], tenantKey: 'TENANT_ID' },
      args: { allow: true, maxItems: 3 },
      maxTaskCount: 5,
      maxTimeoutSeconds: 600,
      principals: ['acme-ci']
    },
    burst: { principals: ['ci', 'ops'], pubsub: {} },
    locked: {}
  }
}

const EMULATOR_JOBS: EmulatorJob[] = [
  { project: PROJECT, name: 'echo-job', maxRetries: 0 },
  { project: PROJECT, name: 'tenant-echo', maxRetries: 0 },
  { project: PROJECT, name: 'restricted', maxRetries: 0 },
  { project: PROJECT, name: 'burst', command: ['true'], maxRetries: 0 },
  { project: PROJECT, name: 'locked', maxRetries: 0 }
]

export interface Stack {
  app: FastifyInstance
  emulator: Emulator
  certs: CertsServer
  /** Signs the ID tokens Google would: its kid is published by `certs`. */
  googleKey: SigningKey
  /** Every line jobgate logged (pino at debug), in order. */
  logText: () => string
  logLines: () => Array<Record<string, unknown>>
  /** The emulator's received `jobs.run` calls. */
  runCalls: () => RecordedRequest[]
}

export interface StackOptions {
  /** JOBGATE_RATE_LIMIT; default: high enough never to interfere; null: unset (jobgate's default). */
  rateLimit?: string | null
  /** Replaces the Cloud Run client (the fuzz counts calls without an emulator round trip). */
  cloudRun?: CloudRunClient
  /** pino level of the captured log; default debug. */
  logLevel?: string
  /** More settings, as environment variables. */
  env?: Record<string, string>
}

/**
 * jobgate as it runs on Cloud Run, pointed at the emulator: configuration read from environment
 * variables by loadConfig, the production clients from createServices (via build), the access token from the
 * emulator's metadata server (GCE_METADATA_HOST, as in local mode), Google's certificates from a
 * local server (JOBGATE_GOOGLE_CERTS_URL), and pino's output captured.
 */
export async function startStack (t: Test, options: StackOptions = {}): Promise<Stack> {
  const googleKey = newSigningKey('google-test-key')
  const certs = await startCertsServer([googleKey])
  t.teardown(certs.close)
  const emulator = await startEmulator({ projectId: PROJECT, region: REGION, jobs: EMULATOR_JOBS, killGraceMs: 500 })
  t.teardown(() => emulator.close())
  process.env.GCE_METADATA_HOST = emulator.hostPort

  const { app, log } = await build(t, {
    env: {
      JOBGATE_MODE: 'cloud',
      GOOGLE_CLOUD_PROJECT: PROJECT,
      CLOUD_RUN_REGION: REGION,
      CLOUD_RUN_API_ENDPOINT: emulator.url,
      CLOUD_LOGGING_API_ENDPOINT: emulator.url,
      JOBGATE_AUTH: 'apikey,google',
      JOBGATE_API_KEYS: JSON.stringify(KEY_TABLE),
      JOBGATE_AUDIENCE: AUDIENCE,
      JOBGATE_GOOGLE_CERTS_URL: certs.url,
      JOBGATE_JOBS: JSON.stringify(CATALOG),
      // The emulator stores lines at once and has no read quota: no tailing after a run ends, no read budget in the way.
      JOBGATE_LOG_GRACE_SECONDS: '0',
      JOBGATE_LOGGING_READS_PER_MINUTE: '1000000',
      JOBGATE_RUN_READS_PER_MINUTE: '1000000',
      LOG_LEVEL: 'debug',
      ...(options.rateLimit !== null && { JOBGATE_RATE_LIMIT: options.rateLimit ?? '1000000' }),
      ...options.env
    },
    services: {
      tokens: new CachedTokenSource(metadataServerFetcher()),
      ...(options.cloudRun !== undefined && { cloudRun: options.cloudRun })
    },
    logLevel: options.logLevel ?? 'debug'
  })
  return {
    app,
    emulator,
    certs,
    googleKey,
    logText: () => log.text,
    logLines: () => log.entries,
    runCalls: () => emulator.requests.filter(request => request.method === 'POST' && request.path.endsWith(':run'))
  }
}

export const apiKey = (key: string): Record<string, string> => ({ 'x-api-key': key })
export const json = { 'content-type': 'application/json' }

/** The exact AIP-193 body, with the HTTP status as its code; returns what was wrong, or undefined. */
export function errorShapeProblem (response: Pick<LightMyRequestResponse, 'statusCode' | 'body'>): string | undefined {
  let body: unknown
  try {
    body = JSON.parse(response.body)
  } catch {
    return `body is not JSON: ${response.body.slice(0, 200)}`
  }
  if (typeof body !== 'object' || body === null || Object.keys(body).join() !== 'error') return `not {error}: ${response.body.slice(0, 200)}`
  const error = (body as { error: Record<string, unknown> }).error
  if (Object.keys(error).sort().join() !== 'code,message,status') return `error has fields ${Object.keys(error).join()}`
  if (error.code !== response.statusCode) return `code ${String(error.code)} is not the HTTP status ${response.statusCode}`
  if (typeof error.status !== 'string' || !/^[A-Z_]+$/.test(error.status)) return `status ${String(error.status)}`
  if (typeof error.message !== 'string' || error.message === '') return 'empty message'
  return undefined
}

/** Asserts a 4xx (the given one, if any) in the contract's error shape. */
export function assertClientError (t: Test, response: Pick<LightMyRequestResponse, 'statusCode' | 'body'>, what: string, code?: number): void {
  const ok = code === undefined ? response.statusCode >= 400 && response.statusCode < 500 : response.statusCode === code
  t.ok(ok, `${what}: HTTP ${response.statusCode}${code === undefined ? '' : ` (want ${code})`} ${response.body.slice(0, 160)}`)
  const problem = errorShapeProblem(response)
  t.equal(problem, undefined, `${what}: contract error shape`)
}
