import t from 'tap'
import * as crypto from 'node:crypto'
import { createAuthenticator, hashApiKey, type AuthConfig, type Principal } from '../../api/auth/index.js'
import { leaksOf } from './leaks.js'
import { AUDIENCE, EMAIL, claims, newSigningKey, signIdToken, startCertsServer } from './google-fixture.js'
import { rejection } from './rejection.js'

const ciKey = crypto.randomBytes(32).toString('base64url')
const acmeKey = crypto.randomBytes(32).toString('base64url')
const freeKey = crypto.randomBytes(32).toString('base64url')
const apiKeys = [
  { sha256: hashApiKey(ciKey), principal: 'ci' },
  { sha256: hashApiKey(acmeKey).toUpperCase(), principal: 'acme-ci', tenant: 'acme' },
  { sha256: hashApiKey(freeKey), principal: 'ops', tenantFree: true }
]
const config = (overrides: Partial<AuthConfig> = {}): AuthConfig => ({
  modes: ['apikey'], apiKeys, audiences: [], certsUrl: 'https://unused.example', allowUnauthenticated: false, ...overrides
})

t.test('hashApiKey is the hex SHA-256 of the key', async t => {
  t.equal(hashApiKey('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
})

t.test('a known key yields its principal, tenant and tenantFree', async t => {
  const auth = createAuthenticator(config())
  t.equal(auth.anonymous, false)
  t.same(await auth.authenticate({ 'x-api-key': ciKey }), { name: 'ci', via: 'apikey' })
  t.same(await auth.authenticate({ 'x-api-key': acmeKey }), { name: 'acme-ci', via: 'apikey', tenant: 'acme' }, 'upper-case hex in a hand-made config works')
  t.same(await auth.authenticate({ 'X-API-Key': freeKey }), { name: 'ops', via: 'apikey', tenantFree: true }, 'header name is case-insensitive')
})

t.test('unknown, wrong-length, empty and repeated keys are refused with 401 and never echoed', async t => {
  const auth = createAuthenticator(config())
  const cases: Array<[string, string | string[], RegExp]> = [
    ['unknown key', crypto.randomBytes(32).toString('base64url'), /API key is not valid/],
    ['known key with one character dropped', ciKey.slice(0, -1), /API key is not valid/],
    ['known key with a character added', `${ciKey}x`, /API key is not valid/],
    ['one-character key', '¤', /API key is not valid/],
    ['a megabyte of key', 'k'.repeat(1024 * 1024), /API key is not valid/],
    ['the hash instead of the key', hashApiKey(ciKey), /API key is not valid/],
    ['empty key', '', /empty/],
    ['two keys', [ciKey, acmeKey], /exactly one x-api-key/]
  ]
  for (const [what, key, reason] of cases) {
    const error = await rejection(auth, { 'x-api-key': key })
    t.equal(error.httpCode, 401, what)
    t.equal(error.status, 'UNAUTHENTICATED', what)
    t.match(error.message, reason, what)
    const secrets = (Array.isArray(key) ? key : [key]).filter(k => k.length > 0)
    t.same(leaksOf(error, secrets), [], `${what}: the key is not echoed`)
  }
})

t.test('no credentials: 401 naming only X-API-Key, even when a Bearer token is sent', async t => {
  const auth = createAuthenticator(config())
  for (const headers of [{}, { authorization: 'Bearer a.b.c' }] as Array<Record<string, string>>) {
    const error = await rejection(auth, headers)
    t.equal(error.message, 'missing credentials: send X-API-Key')
  }
})

t.test('every configured hash is compared, whichever entry matches', async t => {
  let comparisons = 0
  const { createApiKeyLookup } = await t.mockImport<typeof import('../../api/auth/api-key.js')>('../../api/auth/api-key.js', {
    'node:crypto': {
      ...crypto,
      timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => { comparisons++; return crypto.timingSafeEqual(a, b) }
    }
  })
  const lookup = createApiKeyLookup(apiKeys.map(entry => ({ ...entry, sha256: entry.sha256.toLowerCase() })))
  for (const [key, principal] of [[ciKey, 'ci'], [freeKey, 'ops'], ['nobody', undefined]] as const) {
    comparisons = 0
    t.equal(lookup(key)?.principal, principal)
    t.equal(comparisons, apiKeys.length, `${principal ?? 'no match'}: all ${apiKeys.length} entries compared`)
  }
})

t.test('apikey mode without keys is a configuration error', async t => {
  t.throws(() => createAuthenticator(config({ apiKeys: [] })), { name: 'ConfigError', variable: 'JOBGATE_API_KEYS' })
})

t.test('none: every request is anonymous, but only when allowed', async t => {
  const auth = createAuthenticator(config({ modes: [], apiKeys: [], allowUnauthenticated: true }))
  t.equal(auth.anonymous, true)
  const anonymous: Principal = { name: 'anonymous', via: 'anonymous', tenantFree: true }
  t.same(await auth.authenticate({}), anonymous)
  const first = await auth.authenticate({ 'x-api-key': 'whatever', authorization: 'Bearer x' })
  t.same(first, anonymous, 'credentials are ignored')
  first.name = 'changed'
  t.same(await auth.authenticate({}), anonymous, 'each call gets its own object')
  t.throws(() => createAuthenticator(config({ modes: [], allowUnauthenticated: false })), { name: 'ConfigError', variable: 'JOBGATE_AUTH' })
})

t.test('both modes on: either credential works, X-API-Key decides when both are sent', async t => {
  const googleKey = newSigningKey('k1')
  const certs = await startCertsServer([googleKey])
  t.teardown(certs.close)
  const auth = createAuthenticator(config({ modes: ['apikey', 'google'], audiences: [AUDIENCE], certsUrl: certs.url }))
  const token = signIdToken(googleKey, claims())
  t.same(await auth.authenticate({ 'x-api-key': acmeKey }), { name: 'acme-ci', via: 'apikey', tenant: 'acme' })
  t.same(await auth.authenticate({ authorization: `Bearer ${token}` }), { name: EMAIL, via: 'google' })
  t.same(await auth.authenticate({ 'x-api-key': ciKey, authorization: 'Bearer for-cloud-run-iam' }), { name: 'ci', via: 'apikey' },
    'behind a private Cloud Run service, Authorization may hold the invoker token')
  const badKey = await rejection(auth, { 'x-api-key': 'wrong', authorization: `Bearer ${token}` })
  t.equal(badKey.message, 'API key is not valid', 'a wrong key is not rescued by a valid token')
  t.same(leaksOf(badKey, [token, 'wrong']), [])
  const missing = await rejection(auth, {})
  t.equal(missing.message, 'missing credentials: send X-API-Key or Authorization: Bearer <Google ID token>')
  t.same(missing.toBody(), { error: { code: 401, status: 'UNAUTHENTICATED', message: missing.message } })
})
