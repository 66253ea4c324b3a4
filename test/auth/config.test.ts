import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError } from '../../api/config-error.js'
import { GOOGLE_CERTS_URL, hashApiKey, loadAuthConfig } from '../../api/auth/index.js'

const hashA = hashApiKey('key-a')
const hashB = hashApiKey('key-b')
const keysJson = (keys: unknown[]): string => JSON.stringify({ keys })
const goodKeys = keysJson([{ sha256: hashA, principal: 'ci', tenant: 'acme' }, { sha256: hashB.toUpperCase(), principal: 'ops', tenantFree: true }])

t.test('defaults per mode', async t => {
  t.same(loadAuthConfig({}, 'local'), { modes: [], apiKeys: [], audiences: [], certsUrl: GOOGLE_CERTS_URL, allowUnauthenticated: true },
    'local mode: none, and unauthenticated access is allowed')
  t.throws(() => loadAuthConfig({}, 'cloud'), { name: 'ConfigError', variable: 'JOBGATE_AUTH', message: /required in cloud mode/ },
    'cloud mode: no default at all')
  t.throws(() => loadAuthConfig({ JOBGATE_AUTH: '  ' }, 'cloud'), { name: 'ConfigError', variable: 'JOBGATE_AUTH' }, 'blank counts as missing')
  t.equal(GOOGLE_CERTS_URL, 'https://www.googleapis.com/oauth2/v1/certs')
})

t.test('none in cloud mode only with JOBGATE_ALLOW_UNAUTHENTICATED=true', async t => {
  t.throws(() => loadAuthConfig({ JOBGATE_AUTH: 'none' }, 'cloud'), { name: 'ConfigError', variable: 'JOBGATE_AUTH', message: /JOBGATE_ALLOW_UNAUTHENTICATED=true/ })
  t.throws(() => loadAuthConfig({ JOBGATE_AUTH: 'none', JOBGATE_ALLOW_UNAUTHENTICATED: 'false' }, 'cloud'), { name: 'ConfigError', variable: 'JOBGATE_AUTH' })
  t.same(loadAuthConfig({ JOBGATE_AUTH: 'none', JOBGATE_ALLOW_UNAUTHENTICATED: 'true' }, 'cloud'),
    { modes: [], apiKeys: [], audiences: [], certsUrl: GOOGLE_CERTS_URL, allowUnauthenticated: true })
  t.same(loadAuthConfig({ JOBGATE_AUTH: 'none' }, 'local').modes, [])
  t.throws(() => loadAuthConfig({ JOBGATE_ALLOW_UNAUTHENTICATED: 'yes' }, 'local'), { name: 'ConfigError', variable: 'JOBGATE_ALLOW_UNAUTHENTICATED', message: /must be "true" or "false", not "yes"/ })
})

t.test('apikey and google together, with every setting', async t => {
  const config = loadAuthConfig({
    JOBGATE_AUTH: ' apikey , google,apikey',
    JOBGATE_API_KEYS: goodKeys,
    JOBGATE_AUDIENCE: 'https://jobgate-x.a.run.app, jobgate-push,jobgate-push',
    JOBGATE_GOOGLE_CERTS_URL: 'http://127.0.0.1:9999/certs'
  }, 'cloud')
  t.same(config, {
    modes: ['apikey', 'google'],
    apiKeys: [{ sha256: hashA, principal: 'ci', tenant: 'acme' }, { sha256: hashB, principal: 'ops', tenantFree: true }],
    audiences: ['https://jobgate-x.a.run.app', 'jobgate-push'],
    certsUrl: 'http://127.0.0.1:9999/certs',
    allowUnauthenticated: false
  })
})

t.test('settings of a mode that is off are not read', async t => {
  const config = loadAuthConfig({ JOBGATE_AUTH: 'google', JOBGATE_AUDIENCE: 'a', JOBGATE_API_KEYS: 'not json' }, 'cloud')
  t.same(config.apiKeys, [])
  t.same(loadAuthConfig({ JOBGATE_AUTH: 'apikey', JOBGATE_API_KEYS: goodKeys, JOBGATE_GOOGLE_CERTS_URL: 'ftp://x' }, 'cloud').certsUrl, GOOGLE_CERTS_URL)
})

t.test('the key table from a file', async t => {
  const dir = t.testdir({ 'keys.json': goodKeys, 'broken.json': '{"keys": [' })
  t.equal(loadAuthConfig({ JOBGATE_AUTH: 'apikey', JOBGATE_API_KEYS_FILE: join(dir, 'keys.json') }, 'cloud').apiKeys.length, 2)
  t.throws(() => loadAuthConfig({ JOBGATE_AUTH: 'apikey', JOBGATE_API_KEYS_FILE: join(dir, 'missing.json') }, 'cloud'),
    { name: 'ConfigError', variable: 'JOBGATE_API_KEYS_FILE', message: /cannot read .*missing\.json \(ENOENT\)/ })
  t.throws(() => loadAuthConfig({ JOBGATE_AUTH: 'apikey', JOBGATE_API_KEYS_FILE: dir }, 'cloud'),
    { name: 'ConfigError', variable: 'JOBGATE_API_KEYS_FILE', message: /EISDIR/ })
  t.throws(() => loadAuthConfig({ JOBGATE_AUTH: 'apikey', JOBGATE_API_KEYS_FILE: join(dir, 'broken.json') }, 'cloud'),
    { name: 'ConfigError', variable: 'JOBGATE_API_KEYS_FILE', message: /not valid JSON/ })
  writeFileSync(join(dir, 'dup.json'), keysJson([{ sha256: hashA, principal: 'a' }, { sha256: hashA, principal: 'b' }]))
  t.throws(() => loadAuthConfig({ JOBGATE_AUTH: 'apikey', JOBGATE_API_KEYS_FILE: join(dir, 'dup.json') }, 'cloud'),
    { name: 'ConfigError', variable: 'JOBGATE_API_KEYS_FILE', message: /keys\/1\/sha256 repeats keys\/0\/sha256/ })
})

const errorCases: Array<[string, NodeJS.ProcessEnv, string, RegExp]> = [
  ['unknown mode', { JOBGATE_AUTH: 'apikey,oauth' }, 'JOBGATE_AUTH', /unknown mode "oauth"/],
  ['mode in capitals', { JOBGATE_AUTH: 'APIKEY' }, 'JOBGATE_AUTH', /unknown mode "APIKEY"/],
  ['none mixed with a mode', { JOBGATE_AUTH: 'none,apikey' }, 'JOBGATE_AUTH', /cannot be combined/],
  ['empty list entry', { JOBGATE_AUTH: 'apikey,' }, 'JOBGATE_AUTH', /empty entry/],
  ['apikey without keys', { JOBGATE_AUTH: 'apikey' }, 'JOBGATE_API_KEYS', /required when JOBGATE_AUTH includes apikey/],
  ['both key variables', { JOBGATE_AUTH: 'apikey', JOBGATE_API_KEYS: goodKeys, JOBGATE_API_KEYS_FILE: '/tmp/k.json' }, 'JOBGATE_API_KEYS', /not both/],
  ['keys not JSON', { JOBGATE_AUTH: 'apikey', JOBGATE_API_KEYS: '{keys: [\'secret-raw-key\']}' }, 'JOBGATE_API_KEYS', /^JOBGATE_API_KEYS: is not valid JSON/],
  ['keys not an object', { JOBGATE_AUTH: 'apikey', JOBGATE_API_KEYS: '[]' }, 'JOBGATE_API_KEYS', /the value must be object/],
  ['no keys', { JOBGATE_AUTH: 'apikey', JOBGATE_API_KEYS: keysJson([]) }, 'JOBGATE_API_KEYS', /keys must not have fewer than 1 items/],
  ['non-hex hash', { JOBGATE_AUTH: 'apikey', JOBGATE_API_KEYS: keysJson([{ sha256: 'z'.repeat(64), principal: 'ci' }]) }, 'JOBGATE_API_KEYS', /keys\/0\/sha256 must match pattern/],
  ['short hash', { JOBGATE_AUTH: 'apikey', JOBGATE_API_KEYS: keysJson([{ sha256: hashA.slice(1), principal: 'ci' }]) }, 'JOBGATE_API_KEYS', /keys\/0\/sha256/],
  ['a raw key where the hash belongs', { JOBGATE_AUTH: 'apikey', JOBGATE_API_KEYS: keysJson([{ sha256: 'my-secret-key', principal: 'ci' }]) }, 'JOBGATE_API_KEYS', /keys\/0\/sha256/],
  ['duplicate hash in any case', { JOBGATE_AUTH: 'apikey', JOBGATE_API_KEYS: keysJson([{ sha256: hashA, principal: 'a' }, { sha256: hashB, principal: 'b' }, { sha256: hashA.toUpperCase(), principal: 'c' }]) }, 'JOBGATE_API_KEYS', /keys\/2\/sha256 repeats keys\/0\/sha256/],
  ['missing principal', { JOBGATE_AUTH: 'apikey', JOBGATE_API_KEYS: keysJson([{ sha256: hashA }]) }, 'JOBGATE_API_KEYS', /keys\/0/],
  ['principal with spaces', { JOBGATE_AUTH: 'apikey', JOBGATE_API_KEYS: keysJson([{ sha256: hashA, principal: 'c i' }]) }, 'JOBGATE_API_KEYS', /keys\/0\/principal/],
  ['unknown field', { JOBGATE_AUTH: 'apikey', JOBGATE_API_KEYS: keysJson([{ sha256: hashA, principal: 'ci', key: 'raw' }]) }, 'JOBGATE_API_KEYS', /keys\/0 must not have additional properties \(key\)/],
  ['unknown top-level field', { JOBGATE_AUTH: 'apikey', JOBGATE_API_KEYS: JSON.stringify({ keys: [{ sha256: hashA, principal: 'ci' }], extra: 1 }) }, 'JOBGATE_API_KEYS', /additional properties \(extra\)/],
  ['tenantFree not boolean', { JOBGATE_AUTH: 'apikey', JOBGATE_API_KEYS: keysJson([{ sha256: hashA, principal: 'ci', tenantFree: 'yes' }]) }, 'JOBGATE_API_KEYS', /tenantFree/],
  ['tenant with a newline', { JOBGATE_AUTH: 'apikey', JOBGATE_API_KEYS: keysJson([{ sha256: hashA, principal: 'ci', tenant: 'a\nb' }]) }, 'JOBGATE_API_KEYS', /keys\/0\/tenant/],
  ['tenant and tenantFree', { JOBGATE_AUTH: 'apikey', JOBGATE_API_KEYS: keysJson([{ sha256: hashA, principal: 'ci', tenant: 'a', tenantFree: true }]) }, 'JOBGATE_API_KEYS', /exclude each other/],
  ['google without audience', { JOBGATE_AUTH: 'google' }, 'JOBGATE_AUDIENCE', /required when JOBGATE_AUTH includes google/],
  ['empty audience entry', { JOBGATE_AUTH: 'google', JOBGATE_AUDIENCE: 'a,,b' }, 'JOBGATE_AUDIENCE', /empty entry/],
  ['certs URL not a URL', { JOBGATE_AUTH: 'google', JOBGATE_AUDIENCE: 'a', JOBGATE_GOOGLE_CERTS_URL: 'certs.example/v1' }, 'JOBGATE_GOOGLE_CERTS_URL', /not a URL/],
  ['certs URL over plain http', { JOBGATE_AUTH: 'google', JOBGATE_AUDIENCE: 'a', JOBGATE_GOOGLE_CERTS_URL: 'http://certs.example/v1' }, 'JOBGATE_GOOGLE_CERTS_URL', /https/],
  ['certs URL with another scheme', { JOBGATE_AUTH: 'google', JOBGATE_AUDIENCE: 'a', JOBGATE_GOOGLE_CERTS_URL: 'file:///etc/passwd' }, 'JOBGATE_GOOGLE_CERTS_URL', /https/]
]

for (const [what, env, variable, problem] of errorCases) {
  t.test(`${what}: one line naming ${variable}`, async t => {
    for (const mode of ['cloud', 'local'] as const) {
      let caught: unknown
      try {
        loadAuthConfig(env, mode)
      } catch (error) {
        caught = error
      }
      if (!(caught instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${String(caught)}`)
      t.equal(caught.variable, variable, mode)
      t.ok(caught.message.startsWith(`${variable}: `), `${mode}: "${caught.message}" starts with the variable`)
      t.match(caught.message, problem, mode)
      t.notOk(caught.message.includes('\n'), `${mode}: one line`)
      t.notOk(caught.message.includes('secret-raw-key') || caught.message.includes('my-secret-key'), `${mode}: no key value quoted`)
    }
  })
}

t.test('https and loopback certs URLs are accepted', async t => {
  for (const url of ['https://certs.example/v1', 'http://localhost:8081/c', 'http://[::1]:8081/c']) {
    t.equal(loadAuthConfig({ JOBGATE_AUTH: 'google', JOBGATE_AUDIENCE: 'a', JOBGATE_GOOGLE_CERTS_URL: url }, 'cloud').certsUrl, url)
  }
})
