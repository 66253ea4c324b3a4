import { createHash } from 'node:crypto'
import { connect } from 'node:net'
import t from 'tap'
import type { InjectOptions } from 'fastify'
import { KEYS, apiKey, errorShapeProblem, startStack } from './stack.js'

/**
 * At least 200 distinct hostile requests, generated from tables, all through the real app in front
 * of the real emulator: every answer is a 4xx in the contract's shape, and the emulator (Run API and
 * metadata server alike) receives nothing at all.
 */
const stack = await startStack(t)
const { app } = stack

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS' | 'TRACE'
interface HostileCase {
  what: string
  method: Method
  url: string
  headers: Record<string, string>
  payload?: string | Buffer
  /** The exact status, when the case pins one. */
  code?: number
}

const cases: HostileCase[] = []
const CI = apiKey(KEYS.ci)
const ACME = apiKey(KEYS.acme)
const JSON_TYPE = { 'content-type': 'application/json' }

/** A run request to `job` as `auth` (ci on echo: no env allow-list, so only protection and schema stop things). */
function run (
  what: string,
  payload: string | Buffer,
  code?: number,
  options: { job?: string, auth?: Record<string, string>, headers?: Record<string, string> } = {}
): void {
  cases.push({
    what,
    method: 'POST',
    url: `/v1/jobs/${options.job ?? 'echo'}/runs`,
    headers: { ...JSON_TYPE, ...(options.auth ?? CI), ...options.headers },
    payload,
    ...(code !== undefined && { code })
  })
}
const runJson = (what: string, body: unknown, code?: number, options: Parameters<typeof run>[3] = {}): void =>
  run(what, JSON.stringify(body), code, options)

// 1. Malformed JSON, and JSON that is not an object.
const malformed = [
  '{', '}', '[', ']', '{"args"', '{"args":', '{"args":[}', '{"args":["a",]}', '{"args":["a"],}', '{\'args\':[]}', '{args:[]}',
  '{"args":[] "env":{}}', '{"env":{"A":"1" "B":"2"}}', '{"env":{"A"}}', '{"env":{"A":}}', '{"env":{:"1"}}', 'nul', 'tru', 'fals',
  'NaN', 'Infinity', '-Infinity', 'undefined', '-', '01', '{"taskCount":01}', '{"taskCount":.5}', '{"taskCount":1.}',
  '{"taskCount":+1}', '{"taskCount":0x10}', '{"taskCount":1e}', '{"taskCount":--1}', '{"args":["\\x41"]}', '{"args":["\\u12"]}',
  '{"args":["\\uZZZZ"]}', '{"args":["\\a"]}', '{"args":["unterminated]}', '{"args":["tab\there"]}', '{"args":["line\nbreak"]}',
  '{}{}', '{} x', '{}]', '/* comment */{}', '{} // comment', '{"args":[]}garbage', ' ', '\n\t ', '{"args":[1 2]}',
  '{"env":{"A":"1",,"B":"2"}}', '{"args":["a"]]', '{"args":{"a"]}', '\u001b{}', '{"args":["\\"]}'
]
malformed.forEach(text => run(`malformed JSON ${JSON.stringify(text)}`, text, 400))
run('an empty body with a JSON content type', '', 400)
for (const text of ['true', 'false', 'null', '0', '-1', '"{}"', '[]', '[{}]', '1e999', '"\\ud800"', '[{"args":[]}]']) run(`JSON ${text}: not an object`, text, 400)

// 2. Wrong types for every field.
const wrongTypes: Record<string, unknown[]> = {
  args: [null, 1, 'a', {}, true, [1], [null], [[]], [{}], [true], [1.5], { 0: 'a' }],
  env: [null, [], 'A=1', 1, true, { A: 1 }, { A: null }, { A: true }, { A: [] }, { A: {} }, [['A', '1']], { A: 1.5 }],
  clearArgs: [null, 'true', 1, 0, [], {}, 'false'],
  taskCount: [null, '1', true, [], {}, 1.5, '', [1]],
  timeoutSeconds: [null, '60', false, [], {}, 0.5, '1e3']
}
for (const [field, values] of Object.entries(wrongTypes)) values.forEach(value => runJson(`${field}: ${JSON.stringify(value)}`, { [field]: value }, 400))

// 3. Numbers out of range, negative, fractional or huge (the restricted job: taskCount ≤ 5, timeout ≤ 600).
const restricted = { job: 'restricted', auth: ACME }
for (const n of ['0', '-1', '-0', '1.5', '1.0000001', '1e-7', '6', '1e21', '1e308', '-1e308', '9007199254740993', '10001', '4294967297', '5.5', '1e309', '-1e309']) {
  run(`taskCount ${n}`, `{"taskCount":${n}}`, 400, restricted)
}
for (const n of ['0', '-1', '601', '1e21', '1.5', '-0.5', '86401', '604801', '1e309', '-1e309', '1e-300']) {
  run(`timeoutSeconds ${n}`, `{"timeoutSeconds":${n}}`, 400, restricted)
}

// 4. Huge strings, oversized arrays and objects, bodies past the 256 KiB limit.
runJson('an arg of 4097 characters', { args: ['x'.repeat(4097)] }, 400)
runJson('an arg of 4097 two-byte characters', { args: ['é'.repeat(4097)] }, 400)
runJson('an env value of 32769 characters', { env: { A: 'v'.repeat(32_769) } }, 400)
runJson('an env name of 256 characters', { env: { ['A'.repeat(256)]: '1' } }, 400)
runJson('an env name of 100,000 characters', { env: { ['A'.repeat(100_000)]: '1' } }, 400)
runJson('101 args (job limit 100)', { args: Array.from({ length: 101 }, () => 'a') }, 400)
runJson('1001 args (schema limit 1000)', { args: Array.from({ length: 1001 }, () => 'a') }, 400)
runJson('60,000 empty args', { args: Array.from({ length: 60_000 }, () => '') }, 400)
runJson('101 env entries', { env: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`V${i}`, '1'])) }, 400)
runJson('5000 env entries', { env: Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`V${i}`, '1'])) }, 400)
runJson('4 args on a job that takes 3', { args: ['a', 'b', 'c', 'd'] }, 400, restricted)
runJson('a 10 MB arg', { args: ['x'.repeat(10 * 1024 * 1024)] }, 413)
run('10 MB of [', '['.repeat(10 * 1024 * 1024), 413)
run('10 MB of spaces around {}', `{}${' '.repeat(10 * 1024 * 1024)}`, 413)
run('256 KiB + 1 byte', `{"args":["${'x'.repeat(256 * 1024 - 11)}"]}`, 413)
run('a 1 MB key', `{"${'k'.repeat(1024 * 1024)}":1}`, 413)
run('objects nested 10,000 deep', `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`, 400)
run('arrays nested 100,000 deep', `{"args":${'['.repeat(100_000)}${']'.repeat(100_000)}}`, 400)

// 5. NUL bytes.
runJson('NUL in an arg', { args: ['a\u0000b'] }, 400)
runJson('NUL in an env value', { env: { A: 'x\u0000' } }, 400)
runJson('NUL in an env name', { env: { 'A\u0000': 'x' } }, 400)
runJson('NUL as an env name', { env: { '\u0000': 'x' } }, 400)
run('a raw NUL byte after the JSON', Buffer.concat([Buffer.from('{"args":[]}'), Buffer.from([0])]), 400)
run('a raw NUL byte inside a string', Buffer.concat([Buffer.from('{"args":["a'), Buffer.from([0]), Buffer.from('"]}')]), 400)
run('a raw NUL byte before the JSON', Buffer.concat([Buffer.from([0]), Buffer.from('{}')]), 400)

// 6. Invalid UTF-8, in values, keys and between tokens.
const badBytes: Array<[string, number[]]> = [
  ['0xFF', [0xff]], ['0xFE', [0xfe]], ['overlong NUL C0 80', [0xc0, 0x80]], ['overlong C1 BF', [0xc1, 0xbf]],
  ['overlong E0 80 80', [0xe0, 0x80, 0x80]], ['a UTF-16 surrogate ED A0 80', [0xed, 0xa0, 0x80]],
  ['beyond U+10FFFF', [0xf4, 0x90, 0x80, 0x80]], ['a 5-byte form', [0xf8, 0x88, 0x80, 0x80, 0x80]],
  ['a truncated sequence', [0xe2, 0x82]], ['a lone continuation byte', [0x80]], ['a lead byte at the end', [0xc3]],
  ['Latin-1 é', [0xe9]]
]
for (const [what, bytes] of badBytes) {
  run(`invalid UTF-8 (${what}) in an arg`, Buffer.concat([Buffer.from('{"args":["a'), Buffer.from(bytes), Buffer.from('"]}')]), 400)
}
run('invalid UTF-8 in an env name', Buffer.concat([Buffer.from('{"env":{"A'), Buffer.from([0xff]), Buffer.from('":"1"}}')]), 400)
run('invalid UTF-8 in an env value', Buffer.concat([Buffer.from('{"env":{"A":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}}')]), 400)
run('invalid UTF-8 between tokens', Buffer.concat([Buffer.from('{"args":[]'), Buffer.from([0xa0]), Buffer.from('}')]), 400)
run('UTF-16LE JSON', Buffer.from('{"args":["a"]}', 'utf16le'), 400)

// 7. Ids that are not Cloud Run names: traversal, encoded slashes, case, unicode look-alikes, length.
const badJobIds = [
  'echo%2F..', '..%2F..%2Fservices%2Fx', 'echo%2Fruns', '%2Fecho', '%2F', 'ECHO', 'Echo', 'ech%CE%BF', '%C3%A9cho', 'echo%20', '%20echo',
  'echo%09', 'echo%00', '-echo', 'echo-', '1echo', 'a'.repeat(64), 'a'.repeat(101), 'echo%3Frun%3D1', 'echo%23x', 'echo%3B', 'echo%5C..',
  'e%25cho', '%', '%zz', '%E0%A4%A', 'echo%2500', '%EF%BC%A5cho', 'ech%D0%BE', 'echo%0D%0AX-Injected:%201', 'echo:run', 'echo%3Arun',
  'echo.run', 'echo_1', 'echo%2F..%2F..%2F..%2Fprojects%2Fother%2Fjobs%2Fx', 'nope', 'locked'
]
for (const id of badJobIds) {
  cases.push({ what: `job id ${id}: start`, method: 'POST', url: `/v1/jobs/${id}/runs`, headers: { ...JSON_TYPE, ...CI }, payload: '{}' })
  cases.push({ what: `job id ${id}: list`, method: 'GET', url: `/v1/jobs/${id}/runs`, headers: CI })
}
const badRunIds = [
  'x%2F..%2F..%2Fjobs%2Fecho-job:run', '..%2Fexecutions', 'echo-job-ABCDE', 'Echo-job-abcde', 'echo-job-abcd%C3%A9', 'echo_job', '-echo',
  'echo-', '9abc', 'a'.repeat(64), 'a'.repeat(150), 'echo-job-abcde%3Acancel', 'echo-job-abcde%3Fx%3D1', 'echo-job-abcde%23',
  'echo-job-abcde%00', 'echo-job-%E2%80%8Babcde', '%', 'e%25', 'echo-job-abcde%0D%0AHost:%20evil', 'echo%20job', 'ech%D0%BE-job'
]
for (const id of badRunIds) {
  cases.push({ what: `run id ${id}: get`, method: 'GET', url: `/v1/jobs/echo/runs/${id}`, headers: CI })
  cases.push({ what: `run id ${id}: cancel`, method: 'POST', url: `/v1/jobs/echo/runs/${id}/cancel`, headers: CI })
  cases.push({ what: `run id ${id}: logs`, method: 'GET', url: `/v1/jobs/echo/runs/${id}/logs`, headers: CI })
}

// 8. Protected env names in any letter case (echo has no allow-list: only protection stops these).
const protectedNames = [
  'CLOUD_RUN_JOB', 'CLOUD_RUN_TASK_INDEX', 'cloud_run_task_index', 'Cloud_Run_Execution', 'CLOUD_RUN_', 'K_SERVICE', 'k_revision',
  'K_CONFIGURATION', 'k_', 'PORT', 'port', 'Port', 'pOrT', 'GOOGLE_APPLICATION_CREDENTIALS', 'google_cloud_project', 'Google_Auth',
  'GOOGLE_', 'NODE_OPTIONS', 'node_options', 'Node_Options', 'LD_PRELOAD', 'ld_preload', 'Ld_Library_Path', 'LD_AUDIT', 'PATH', 'path',
  'Path', 'pATH'
]
for (const name of protectedNames) runJson(`protected env ${name}`, { env: { [name]: '/tmp/x' } }, 400)
// 8b. The families a denylist must know (issue 10): shell start-up files, proxies in any case, runtime options, TLS trust,
// metadata and emulator hosts, the gcloud SDK. echo allows "*", so only the denylist stops these.
const protectedFamilies = [
  'BASH_ENV', 'bash_env', 'ENV', 'SHELLOPTS', 'BASHOPTS', 'PS4', 'PROMPT_COMMAND', 'HOME', 'ZDOTDIR', 'IFS',
  'HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'Http_Proxy', 'ALL_PROXY', 'all_proxy', 'NO_PROXY', 'no_proxy', 'GRPC_PROXY',
  'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'JDK_JAVA_OPTIONS', 'java_tool_options', 'CLASSPATH', 'PERL5OPT', 'perl5opt', 'PERL5LIB', 'PERL5DB',
  'PYTHONWARNINGS', 'PYTHONSTARTUP', 'PYTHONPATH', 'PYTHONHOME', 'PYTHONINSPECT', 'pythonwarnings', 'BROWSER', 'RUBYOPT', 'RUBYLIB',
  'NODE_TLS_REJECT_UNAUTHORIZED', 'NODE_EXTRA_CA_CERTS', 'NODE_PATH', 'node_tls_reject_unauthorized', 'NPM_CONFIG_REGISTRY',
  'DOTNET_STARTUP_HOOKS', 'CORECLR_PROFILER_PATH', 'GIT_SSH_COMMAND', 'GLIBC_TUNABLES', 'GCONV_PATH', 'DYLD_INSERT_LIBRARIES',
  'SSL_CERT_FILE', 'SSL_CERT_DIR', 'ssl_cert_file', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'AWS_CA_BUNDLE', 'GRPC_DEFAULT_SSL_ROOTS_FILE_PATH',
  'GCE_METADATA_HOST', 'GCE_METADATA_IP', 'GCE_METADATA_ROOT', 'gce_metadata_host', 'METADATA_SERVER_DETECTION', 'NO_GCE_CHECK',
  'STORAGE_EMULATOR_HOST', 'PUBSUB_EMULATOR_HOST', 'FIRESTORE_EMULATOR_HOST', 'DATASTORE_EMULATOR_HOST', 'BIGTABLE_EMULATOR_HOST',
  'storage_emulator_host', 'CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN', 'CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE', 'CLOUDSDK_CORE_PROJECT',
  'cloudsdk_auth_access_token_file', 'GCLOUD_PROJECT'
]
for (const name of protectedFamilies) runJson(`protected env family ${name}`, { env: { [name]: 'http://127.0.0.1:9/$(id)' } }, 400)
// 8c. A job without env.allow, with authentication on: no env override at all (burst lists none).
for (const name of ['GREETING', 'REPORT_DATE', 'A', 'TENANT_ID', 'BASH_ENV']) runJson(`env ${name} on a job without env.allow`, { env: { [name]: '1' } }, 400, { job: 'burst' })
// 8d. Letter-case variants of the tenant key: 403, alone or beside the real one.
for (const env of [{ tenant_id: 'globex' }, { Tenant_Id: 'acme' }, { TENANT_ID: 'acme', tenant_id: 'globex' }, { TENANT_ID: 'acme', tenant_Id: 'acme' }]) {
  runJson(`tenant key variant ${JSON.stringify(env)}`, { env }, 403, { job: 'tenant-echo', auth: ACME })
}
runJson('a protected name among allowed ones', { env: { A: '1', B: '2', NODE_OPTIONS: '--require /tmp/x.js', C: '3' } }, 400)

// 9. Invalid env names: homoglyphs, invisible characters, punctuation.
const badNames = [
  'РATH' /* Cyrillic Р */, 'PАTH' /* Cyrillic А */, 'ＰＡＴＨ', 'LD_PRELOAD\u200b', 'NODE\u2010OPTIONS', 'K\u0130_SERVICE', 'PORT\u0301',
  'TENANT-ID', '1A', 'A B', 'A=B', '', 'A.B', 'A$', 'ÄB', 'A\nB', ' PATH', 'PATH ', 'PATH\t', 'ＮＯＤＥ_OPTIONS', 'A\u00a0B'
]
for (const name of badNames) runJson(`env name ${JSON.stringify(name)}`, { env: { [name]: '1' } }, 400)

// 10. Prototype pollution.
const pollution = [
  '{"__proto__":{"polluted":true}}', '{"constructor":{"prototype":{"polluted":true}}}', '{"env":{"__proto__":"x"}}',
  '{"env":{"constructor":"x"}}', '{"env":{"__proto__":{"polluted":"yes"}}}', '{"env":{"\\u005f\\u005fproto\\u005f\\u005f":"x"}}',
  '{"\\u0063onstructor":{}}', '{"args":[{"__proto__":1}]}', '{"args":[],"__proto__":[]}',
  '{"env":{"A":"1","constructor":{"prototype":{}}}}', '{"env":{"__proto__":null}}', '{"a":{"b":{"__proto__":{"polluted":1}}}}'
]
pollution.forEach(text => run(`prototype pollution ${text}`, text, 400))

// 11. Content types other than JSON in UTF-8, with a body that would be valid.
const contentTypes = [
  'text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x',
  'application/json-patch+json', 'application/merge-patch+json', 'application/vnd.api+json', 'application/jsonx',
  'application/json; charset=latin1', 'application/json; charset=utf-16', 'application/json; charset=iso-8859-1',
  'application/json; charset=utf-8; charset=latin1', 'text/json', 'application/xml', 'text/html', '*/*', 'application/*',
  'application', 'json', 'application/json, text/plain', 'application/octet-stream', 'application/javascript',
  'application/ld+json', 'application/cloudevents+json', 'text/javascript', 'image/png', 'x/y', 'application/json/x'
]
for (const type of contentTypes) run(`content type ${type}`, '{}', 415, { headers: { 'content-type': type } })
cases.push({ what: 'a body without a content type', method: 'POST', url: '/v1/jobs/echo/runs', headers: CI, payload: '{}', code: 415 })

// 12. Duplicate keys (JSON.parse would silently keep the last one).
const duplicates: Array<[string, Parameters<typeof run>[3]?]> = [
  ['{"args":[],"args":["x"]}'], ['{"env":{},"env":{"A":"1"}}'], ['{"taskCount":1,"taskCount":2}'], ['{"env":{"A":"1","A":"2"}}'],
  ['{"env":{"A":"1","\\u0041":"2"}}'], ['{"clearArgs":false,"clearArgs":true}'], ['{"env":{"A":"1", "A" : "1"}}'],
  ['{"args":[{"a":1,"a":2}]}'], ['{"timeoutSeconds":60,"timeoutSeconds":60}'], ['{"env":{"PATH":"/x","PATH":"/usr/bin"}}'],
  ['{"env":{"TENANT_ID":"acme","TENANT_ID":"globex"}}', { job: 'tenant-echo', auth: ACME }],
  ['{"env":{"REPORT_A":"1","REPORT_A":"1"}}', restricted]
]
for (const [text, options] of duplicates) run(`duplicate keys ${text}`, text, 400, options)

// 13. Unknown fields.
const unknownFields = [
  { foo: 1 }, { Args: [] }, { ENV: {} }, { overrides: {} }, { containerOverrides: [{ env: [] }] }, { taskcount: 1 },
  { env: {}, extra: null }, { args: [], clearargs: true }, { parallelism: 2 }, { serviceAccount: 'x' }, { job: 'other' },
  { project: 'other' }, { '': 1 }
]
unknownFields.forEach(body => runJson(`unknown field ${JSON.stringify(body)}`, body, 400))

// 14. The restricted job's policy.
runJson('an env name outside the allow-list', { env: { DATEX: '1' } }, 400, restricted)
runJson('an allow-listed name in another case', { env: { Date: '1' } }, 400, restricted)
runJson('a prefix without its underscore', { env: { REPORT: '1' } }, 400, restricted)
runJson('a longer prefix', { env: { REPORTS_X: '1' } }, 400, restricted)
runJson('clearArgs with args', { clearArgs: true, args: ['a'] }, 400, restricted)
runJson('another tenant on the restricted job', { env: { TENANT_ID: 'globex' } }, 403, restricted)
runJson('a valid body by a caller not on the job (the 404 of an unknown job)', { env: { DATE: '1' } }, 404, { job: 'restricted', auth: CI })
runJson('a valid body with no credentials', {}, 401, { auth: {} })
runJson('a hostile body with no credentials', { env: { LD_PRELOAD: 'x' } }, 401, { auth: {} })
runJson('a valid body with a wrong key', {}, 401, { auth: apiKey('jg_wrong') })

// 15. Query strings.
const queries: Array<[string, string]> = [
  ['/v1/jobs/echo/runs', 'pageSize=0'], ['/v1/jobs/echo/runs', 'pageSize=101'], ['/v1/jobs/echo/runs', 'pageSize=-1'],
  ['/v1/jobs/echo/runs', 'pageSize=1.5'], ['/v1/jobs/echo/runs', 'pageSize=abc'], ['/v1/jobs/echo/runs', 'pageSize='],
  ['/v1/jobs/echo/runs', 'pageToken=%00'], ['/v1/jobs/echo/runs', 'pageToken=%3Cscript%3E'], ['/v1/jobs/echo/runs', `pageToken=${'a'.repeat(3000)}`],
  ['/v1/jobs/echo/runs', 'unknown=1'], ['/v1/jobs/echo/runs', '__proto__=x'], ['/v1/jobs/echo/runs', 'constructor=x'],
  ['/v1/jobs/echo/runs', 'pageSize=1&pageSize=2'], ['/v1/jobs/echo/runs', 'pageToken=a%26labelSelector%3Dx'],
  ['/v1/jobs/echo/runs/echo-job-abcde', 'wait=-1'], ['/v1/jobs/echo/runs/echo-job-abcde', 'wait=61'],
  ['/v1/jobs/echo/runs/echo-job-abcde', 'wait=abc'], ['/v1/jobs/echo/runs/echo-job-abcde', 'wait=1.5'],
  ['/v1/jobs/echo/runs/echo-job-abcde', 'wait=1e3'], ['/v1/jobs/echo/runs/echo-job-abcde', 'wait='],
  ['/v1/jobs/echo/runs/echo-job-abcde', 'wait=true'], ['/v1/jobs/echo/runs/echo-job-abcde', 'wait=0x10'],
  ['/v1/jobs/echo/runs/echo-job-abcde', 'wait=%205'], ['/v1/jobs/echo/runs', 'pageSize=%2B3'],
  ['/v1/jobs/echo/runs/echo-job-abcde', 'wait=1&wait=2'], ['/v1/jobs/echo/runs/echo-job-abcde', 'extra=1'],
  ['/v1/jobs', 'x=1'], ['/v1/jobs', '__proto__=1'], ['/v1/jobs/echo/runs/echo-job-abcde/logs', 'pageSize=0'],
  ['/v1/jobs/echo/runs/echo-job-abcde/logs', 'pageSize=1001'], ['/v1/jobs/echo/runs/echo-job-abcde/logs', 'pageToken=%ZZ'],
  ['/v1/jobs/echo/runs/echo-job-abcde/logs', 'filter=resource.type%3D%22x%22']
]
for (const [path, query] of queries) cases.push({ what: `query ${path}?${query.slice(0, 40)}`, method: 'GET', url: `${path}?${query}`, headers: CI, code: 400 })

// 16. Methods and routes that do not exist.
const noRoutes: Array<[Method, string]> = [
  ['PUT', '/v1/jobs/echo/runs'], ['PATCH', '/v1/jobs/echo/runs'], ['DELETE', '/v1/jobs/echo/runs'], ['OPTIONS', '/v1/jobs/echo/runs'],
  ['TRACE', '/v1/jobs'], ['POST', '/v1/jobs'], ['DELETE', '/v1/jobs/echo/runs/echo-job-abcde'], ['PUT', '/v1/jobs/echo/runs/echo-job-abcde/cancel'],
  ['GET', '/v1/jobs/echo/runs/echo-job-abcde/cancel'], ['POST', '/v1/jobs/echo'], ['GET', '/v1/jobs/echo'], ['POST', '/v1/jobs/echo/runs/'],
  ['GET', '/admin'], ['POST', '/healthz'], ['GET', '/v1/jobs/echo/runs/echo-job-abcde/logs/x'], ['GET', '/computeMetadata/v1/instance/service-accounts/default/token'],
  ['GET', '/apis/run.googleapis.com/v1/namespaces/sec-project/jobs']
]
for (const [method, url] of noRoutes) cases.push({ what: `no route ${method} ${url}`, method, url, headers: { ...CI, ...(method === 'POST' || method === 'PUT' ? JSON_TYPE : {}) }, payload: method === 'POST' || method === 'PUT' ? '{}' : undefined, code: 404 } as HostileCase)

/** Raw requests a client library would never send: dot segments, smuggling, broken HTTP. */
const key = `x-api-key: ${KEYS.ci}\r\n`
const rawCases: Array<[what: string, request: string | Buffer]> = [
  ['a literal .. as job id', `GET /v1/jobs/../runs HTTP/1.1\r\nHost: x\r\n${key}\r\n`],
  ['a literal . as job id', `POST /v1/jobs/./runs HTTP/1.1\r\nHost: x\r\n${key}Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`],
  ['%2e%2e as run id', `GET /v1/jobs/echo/runs/%2e%2e HTTP/1.1\r\nHost: x\r\n${key}\r\n`],
  ['%2E%2e as job id', `POST /v1/jobs/%2E%2e/runs HTTP/1.1\r\nHost: x\r\n${key}Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`],
  ['..%2F..%2F in a run id', `POST /v1/jobs/echo/runs/..%2F..%2Fjobs%2Fecho-job:run/cancel HTTP/1.1\r\nHost: x\r\n${key}\r\n`],
  ['dot segments around the job', `POST /v1/jobs/echo/../locked/runs HTTP/1.1\r\nHost: x\r\n${key}Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`],
  ['a backslash path', `GET /v1/jobs/echo\\..\\runs HTTP/1.1\r\nHost: x\r\n${key}\r\n`],
  ['absolute-form URL with a hostile body', `POST http://evil.example/v1/jobs/echo/runs HTTP/1.1\r\nHost: x\r\n${key}Content-Type: application/json\r\nContent-Length: 22\r\n\r\n{"env":{"PATH":"/x"}}\n`],
  ['headers past 16 KiB', `GET /v1/jobs HTTP/1.1\r\nHost: x\r\n${key}X-Big: ${'a'.repeat(20_000)}\r\n\r\n`],
  ['a 20 KiB URL', `GET /v1/jobs/${'a'.repeat(20_000)}/runs HTTP/1.1\r\nHost: x\r\n\r\n`],
  ['Content-Length and Transfer-Encoding (smuggling)', `POST /v1/jobs/echo/runs HTTP/1.1\r\nHost: x\r\n${key}Content-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}`],
  ['two Content-Lengths', `POST /v1/jobs/echo/runs HTTP/1.1\r\nHost: x\r\n${key}Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}`],
  ['a Content-Length longer than the body', `POST /v1/jobs/echo/runs HTTP/1.1\r\nHost: x\r\n${key}Content-Type: application/json\r\nContent-Length: 10\r\n\r\n{}`],
  ['a malformed request line', 'garbage\r\n\r\n'],
  ['an unknown method token', `FOO /v1/jobs HTTP/1.1\r\nHost: x\r\n${key}\r\n`],
  ['a header name with a space', 'GET /v1/jobs HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n\r\n'],
  ['a control character in the URL', 'GET /v1/jobs\u0001 HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['an invalid chunk size', `POST /v1/jobs/echo/runs HTTP/1.1\r\nHost: x\r\n${key}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n`],
  ['a chunked body past 256 KiB', `POST /v1/jobs/echo/runs HTTP/1.1\r\nHost: x\r\n${key}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${`8000\r\n${' '.repeat(0x8000)}\r\n`.repeat(9)}0\r\n\r\n`],
  ['an obsolete line folding', 'GET /v1/jobs HTTP/1.1\r\nHost: x\r\nX-Api-Key: a\r\n b\r\n\r\n'],
  ['HTTP/0.9', 'GET /v1/jobs\r\n\r\n'],
  ['an unsupported HTTP version', `GET /v1/jobs HTTP/3.0\r\nHost: x\r\n${key}\r\n`]
]

/** One raw exchange: status and body of the first response (then the server closes, or we do). */
async function rawExchange (port: number, request: string | Buffer): Promise<{ statusCode: number, body: string }> {
  const text = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => { socket.end(request) })
    let received = ''
    const finish = (): void => { socket.destroy(); resolve(received) }
    socket.setTimeout(2000, finish)
    socket.on('data', chunk => {
      received += chunk.toString('latin1')
      const head = received.indexOf('\r\n\r\n')
      const length = /content-length: (\d+)/i.exec(received.slice(0, head))?.[1]
      if (head !== -1 && length !== undefined && received.length >= head + 4 + Number(length)) finish()
    })
    socket.on('close', () => resolve(received))
    socket.on('error', reject)
  })
  const statusCode = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0)
  return { statusCode, body: text.slice(text.indexOf('\r\n\r\n') + 4) }
}

const fingerprint = (parts: unknown[]): string => createHash('sha256').update(JSON.stringify(parts, (_k, v: unknown) => Buffer.isBuffer(v) ? v.toString('base64') : v)).digest('hex')

t.test(`${cases.length + rawCases.length} distinct hostile requests: every answer a 4xx in the contract shape, nothing upstream`, async t => {
  const distinct = new Set([
    ...cases.map(c => fingerprint([c.method, c.url, Object.entries(c.headers).sort(), c.payload])),
    ...rawCases.map(([, request]) => fingerprint(['raw', request]))
  ])
  t.ok(distinct.size >= 200, `${distinct.size} distinct requests (at least 200)`)
  t.equal(distinct.size, cases.length + rawCases.length, 'no case repeats another')

  const statuses = new Map<number, number>()
  for (const c of cases) {
    const request: InjectOptions = { method: c.method, url: c.url, headers: c.headers }
    if (c.payload !== undefined) request.payload = c.payload
    const response = await app.inject(request)
    statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1)
    const wanted = c.code === undefined ? response.statusCode >= 400 && response.statusCode < 500 : response.statusCode === c.code
    const problem = errorShapeProblem(response)
    // One assertion per case keeps the output readable; the message says everything on failure.
    t.ok(wanted && problem === undefined, `${c.what}: ${response.statusCode}${c.code === undefined ? '' : ` (want ${c.code})`}${problem === undefined ? '' : ` — ${problem}`}`,
      { diagnostic: !wanted || problem !== undefined, body: response.body.slice(0, 300) })
    t.notMatch(response.body, /node_modules|\/api\/|\.ts:\d+|\bat \w+ \(/, `${c.what}: no stack or source path in the answer`)
  }

  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  for (const [what, request] of rawCases) {
    const response = await rawExchange(port, request)
    statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1)
    const problem = errorShapeProblem(response)
    t.ok(response.statusCode >= 400 && response.statusCode < 500 && problem === undefined, `raw: ${what}: ${response.statusCode}${problem === undefined ? '' : ` — ${problem}`}`,
      { diagnostic: problem !== undefined, body: response.body.slice(0, 300) })
  }
  t.comment(`statuses: ${[...statuses].sort(([a], [b]) => a - b).map(([code, n]) => `${code}×${n}`).join(', ')}`)
  t.notOk([...statuses.keys()].some(code => code >= 500), 'no 5xx')

  t.same(stack.runCalls(), [], 'no jobs.run call reached the emulator')
  t.same(stack.emulator.requests.map(r => `${r.method} ${r.url}`), [], 'the emulator received no request at all (not even a token fetch)')
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is untouched')
  t.same(Object.getOwnPropertyNames(Object.prototype).filter(name => name === 'polluted'), [])
})
