import t from 'tap'
import fc from 'fast-check'
import type { JobEntry } from '../../api/catalog.js'
import type { CloudRunClient } from '../../api/cloudrun/client.js'
import type { Execution, RunJobRequest } from '../../api/cloudrun/execution.js'
import { KEYS, apiKey, errorShapeProblem, json, startStack } from './stack.js'

/**
 * Property-based fuzzing of POST /v1/jobs/restricted/runs as acme-ci (tenant acme). The job's policy
 * is narrow enough that validity is decidable by the oracle below, written from the contract and
 * the catalog, not from the implementation: a body is started (202, one Cloud Run call) exactly
 * when it is valid; anything else is a 4xx in the contract's shape and calls nothing.
 */
const calls: Array<{ entry: JobEntry, request: RunJobRequest }> = []
const unused = async (): Promise<never> => { throw new Error('the fuzz only starts runs') }
const recordingClient: CloudRunClient = {
  runJob: async (entry, request): Promise<Execution> => {
    calls.push({ entry, request })
    return { metadata: { name: `restricted-${calls.length.toString(36).padStart(5, '0')}`, creationTimestamp: new Date().toISOString() } }
  },
  getExecution: unused,
  listExecutions: unused,
  cancelExecution: unused,
  listTasks: unused
}
// The stand-in's runs never end: thousands of them would meet the running-executions ceiling (800 by default).
const stack = await startStack(t, { cloudRun: recordingClient, logLevel: 'warn', env: { JOBGATE_MAX_RUNNING_EXECUTIONS: '100000' } })

// ── The oracle: the restricted job (env DATE and REPORT_*, tenant key TENANT_ID, ≤ 3 args, taskCount ≤ 5, timeout ≤ 600). ──
const FIELDS = new Set(['args', 'env', 'clearArgs', 'taskCount', 'timeoutSeconds'])
const PROTECTED = /^(CLOUD_RUN_|K_|GOOGLE_|LD_)|^(PORT|NODE_OPTIONS|PATH)$/i
const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)
const isShortString = (value: unknown, max: number): value is string => typeof value === 'string' && value.length <= max && !value.includes('\u0000')
const inRange = (value: unknown, max: number): boolean => typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= max

function hasForbiddenKey (value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasForbiddenKey)
  if (!isPlainObject(value)) return false
  return Object.keys(value).some(key => key === '__proto__' || key === 'constructor' || hasForbiddenKey(value[key]))
}

function envNameAllowed (name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]{0,254}$/.test(name) && !PROTECTED.test(name) && (name === 'TENANT_ID' || name === 'DATE' || name.startsWith('REPORT_'))
}

/** Whether the server must start this body (as sent: the JSON text, parsed again). */
function isValid (body: unknown): boolean {
  if (!isPlainObject(body) || hasForbiddenKey(body)) return false
  if (!Object.keys(body).every(key => FIELDS.has(key))) return false
  const { args, env, clearArgs, taskCount, timeoutSeconds } = body
  if (args !== undefined && !(Array.isArray(args) && args.length <= 3 && args.every(arg => isShortString(arg, 4096)))) return false
  if (env !== undefined) {
    if (!isPlainObject(env) || Object.keys(env).length > 100) return false
    for (const [name, value] of Object.entries(env)) {
      if (!envNameAllowed(name) || !isShortString(value, 32_768)) return false
      if (name === 'TENANT_ID' && value !== 'acme') return false
    }
  }
  if (clearArgs !== undefined && typeof clearArgs !== 'boolean') return false
  if (clearArgs === true && Array.isArray(args) && args.length > 0) return false
  if (taskCount !== undefined && !inRange(taskCount, 5)) return false
  if (timeoutSeconds !== undefined && !inRange(timeoutSeconds, 600)) return false
  return true
}

// ── Generators: arbitrary JSON, valid requests, near misses, and near misses with a duplicated key. ──
const shortText = fc.string({ maxLength: 12 })
const validEnvName = fc.oneof(fc.constantFrom('DATE', 'REPORT_', 'TENANT_ID'), fc.stringMatching(/^REPORT_[A-Z0-9_]{1,12}$/))
const validRequest = fc.record({
  args: fc.array(shortText, { maxLength: 3 }),
  env: fc.dictionary(validEnvName, fc.oneof(shortText, fc.constant('acme')), { maxKeys: 4, noNullPrototype: true })
    .map(env => 'TENANT_ID' in env ? { ...env, TENANT_ID: 'acme' } : env),
  taskCount: fc.integer({ min: 1, max: 5 }),
  timeoutSeconds: fc.integer({ min: 1, max: 600 })
}, { requiredKeys: [] })

const nearMissEnvName = fc.oneof(
  validEnvName,
  fc.constantFrom('Date', 'REPORT', 'REPORTS_X', 'report_x', 'PATH', 'ld_preload', 'NODE_OPTIONS', 'K_SERVICE', 'GOOGLE_X', 'tenant_id',
    '__proto__', 'constructor', 'TENANT-ID', '1X', '', 'DATE ', 'DАTE', 'REPORT_\u0000', `REPORT_${'X'.repeat(300)}`),
  shortText
)
const nearMissValue = fc.oneof(shortText, fc.constantFrom('acme', 'globex', 'ACME', '', 'a\u0000b'), fc.constant('v'.repeat(33_000)),
  fc.integer(), fc.constant(null), fc.boolean(), fc.array(shortText, { maxLength: 2 }))
const nearMissRequest = fc.record({
  args: fc.oneof(fc.array(shortText, { maxLength: 5 }), fc.constant(['x'.repeat(5000)]), fc.constant(['a\u0000']),
    fc.array(fc.oneof(shortText, fc.integer(), fc.constant(null)), { maxLength: 3 }), shortText, fc.constant(null)),
  env: fc.oneof(fc.dictionary(nearMissEnvName, nearMissValue, { maxKeys: 4 }), fc.constant([]), shortText, fc.constant(null)),
  clearArgs: fc.oneof(fc.boolean(), fc.constantFrom('true', 1, 0, null)),
  taskCount: fc.oneof(fc.integer({ min: -2, max: 8 }), fc.double(), fc.constantFrom(1e21, 2 ** 53 + 2, '3', true, null, 5.5)),
  timeoutSeconds: fc.oneof(fc.integer({ min: -1, max: 700 }), fc.constantFrom(599, 600, 601), fc.double(), fc.constant('60')),
  extra: fc.constantFrom(1, 'x', null)
}, { requiredKeys: [] })

/** The JSON text of `body` with one key written twice: `{"k":v,"k":v,…}` at the top or inside env. */
function withDuplicateKey (body: Record<string, unknown>, inEnv: boolean): string | undefined {
  const env = body.env
  if (inEnv && isPlainObject(env) && Object.keys(env).length > 0) {
    const [name] = Object.keys(env)
    const envText = JSON.stringify(env).replace(/^\{/, `{${JSON.stringify(name)}:${JSON.stringify(env[name as string])},`)
    return JSON.stringify({ ...body, env: '\u0001' }).replace('"\\u0001"', envText)
  }
  const [key] = Object.keys(body)
  if (key === undefined) return undefined
  return JSON.stringify(body).replace(/^\{/, `{${JSON.stringify(key)}:${JSON.stringify(body[key])},`)
}

interface Case { kind: 'json' | 'valid' | 'near-miss' | 'duplicate', text: string }
const textOf = (kind: Case['kind']) => (value: unknown): Case => ({ kind, text: JSON.stringify(value) ?? 'null' })
const bodies: fc.Arbitrary<Case> = fc.oneof(
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map(textOf('json')) },
  { weight: 3, arbitrary: validRequest.map(textOf('valid')) },
  { weight: 4, arbitrary: nearMissRequest.map(textOf('near-miss')) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.oneof(validRequest, nearMissRequest), fc.boolean())
      .map(([body, inEnv]): Case => ({ kind: 'duplicate', text: withDuplicateKey(body, inEnv) ?? '{"taskCount":1,"taskCount":1}' }))
  }
)

const RUNS = 5000

t.test(`${RUNS} generated bodies: 202 exactly for the valid ones, otherwise a 4xx in the contract shape; Cloud Run called only for valid ones`, async t => {
  const seen = { total: 0, started: 0, rejected: 0, byKind: new Map<string, number>(), byStatus: new Map<number, number>() }
  const began = performance.now()
  await fc.assert(fc.asyncProperty(bodies, async ({ kind, text }) => {
    seen.total++
    seen.byKind.set(kind, (seen.byKind.get(kind) ?? 0) + 1)
    const valid = kind !== 'duplicate' && isValid(JSON.parse(text))
    const before = calls.length
    const response = await stack.app.inject({ method: 'POST', url: '/v1/jobs/restricted/runs', headers: { ...json, ...apiKey(KEYS.acme) }, payload: text })
    seen.byStatus.set(response.statusCode, (seen.byStatus.get(response.statusCode) ?? 0) + 1)
    if (valid) {
      seen.started++
      if (response.statusCode !== 202) throw new Error(`valid body ${text} answered ${response.statusCode} ${response.body}`)
      if (calls.length !== before + 1) throw new Error(`valid body ${text}: ${calls.length - before} Cloud Run calls`)
      const sent = calls.at(-1)?.request.overrides?.containerOverrides?.[0]?.env ?? []
      if (!sent.some(({ name, value }) => name === 'TENANT_ID' && value === 'acme')) throw new Error(`valid body ${text}: TENANT_ID=acme not set: ${JSON.stringify(sent)}`)
    } else {
      seen.rejected++
      const problem = errorShapeProblem(response)
      if (response.statusCode < 400 || response.statusCode >= 500 || problem !== undefined) {
        throw new Error(`invalid body ${text.slice(0, 300)} answered ${response.statusCode} ${response.body.slice(0, 300)} ${problem ?? ''}`)
      }
      if (calls.length !== before) throw new Error(`invalid body ${text.slice(0, 300)} reached Cloud Run`)
    }
  }), { numRuns: RUNS })
  const seconds = (performance.now() - began) / 1000
  t.comment(`${seen.total} bodies in ${seconds.toFixed(1)} s: ${seen.started} started, ${seen.rejected} rejected; kinds ${JSON.stringify(Object.fromEntries(seen.byKind))}; statuses ${JSON.stringify(Object.fromEntries(seen.byStatus))}`)
  t.ok(seen.total >= RUNS, `${seen.total} bodies (at least ${RUNS})`)
  t.ok(seen.started >= RUNS / 10, `${seen.started} valid bodies started: the generators reach the valid side`)
  t.ok(seen.rejected >= RUNS / 2, `${seen.rejected} invalid bodies rejected`)
  t.equal(calls.length, seen.started, 'Cloud Run was called once per valid body and never otherwise')
  t.notOk(seen.byStatus.has(500) || [...seen.byStatus.keys()].some(code => code >= 500), 'no 5xx')
  t.same(stack.emulator.requests, [], 'the fake client stood in for Cloud Run: the emulator saw nothing')
})
