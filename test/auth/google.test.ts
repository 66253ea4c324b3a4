import t from 'tap'
import { OAuth2Client } from 'google-auth-library'
import { ApiError } from '../../api/errors.js'
import { createAuthenticator, type AuthConfig } from '../../api/auth/index.js'
import { leaksOf } from './leaks.js'
import { AUDIENCE, EMAIL, claims, newSigningKey, signIdToken, startCertsServer } from './google-fixture.js'
import { rejection } from './rejection.js'

const googleKey = newSigningKey('google-key-1')
const strangerKey = newSigningKey('google-key-1') // same kid, different key: a forgery
const unlistedKey = newSigningKey('not-published')
const certs = await startCertsServer([googleKey])
t.teardown(certs.close)

const config = (overrides: Partial<AuthConfig> = {}): AuthConfig => ({
  modes: ['google'], apiKeys: [], audiences: [AUDIENCE], certsUrl: certs.url, allowUnauthenticated: false, ...overrides
})
const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })
const now = (): number => Math.floor(Date.now() / 1000)

/** The ApiError the default authenticator (or `auth`) must fail with. */
const refusal = async (headers: Record<string, string>, auth = createAuthenticator(config())): Promise<ApiError> =>
  await rejection(auth, headers)

t.test('a valid ID token yields the email as principal', async t => {
  const auth = createAuthenticator(config())
  t.equal(auth.anonymous, false)
  t.same(await auth.authenticate(bearer(signIdToken(googleKey, claims()))), { name: EMAIL, via: 'google' })
  t.same(await auth.authenticate({ Authorization: `bearer   ${signIdToken(googleKey, claims())}` }), { name: EMAIL, via: 'google' },
    'scheme is case-insensitive and the header name too')
})

t.test('an nbf in the past or within the clock skew is accepted', async t => {
  const auth = createAuthenticator(config())
  t.equal((await auth.authenticate(bearer(signIdToken(googleKey, claims({ nbf: now() - 60 }))))).name, EMAIL)
  t.equal((await auth.authenticate(bearer(signIdToken(googleKey, claims({ nbf: now() + 60 }))))).name, EMAIL)
})

t.test('any of several audiences is accepted', async t => {
  const auth = createAuthenticator(config({ audiences: ['https://other.example', 'pubsub-push'] }))
  t.equal((await auth.authenticate(bearer(signIdToken(googleKey, claims({ aud: 'pubsub-push' }))))).name, EMAIL)
})

const rejected: Array<[what: string, token: () => string, reason: RegExp]> = [
  ['expired', () => signIdToken(googleKey, claims({ iat: now() - 7200, exp: now() - 3600 })), /expired/],
  ['not yet valid', () => signIdToken(googleKey, claims({ iat: now() + 3600, exp: now() + 7200 })), /not valid yet/],
  ['with nbf an hour ahead (issue 10: nbf was not checked)', () => signIdToken(googleKey, claims({ nbf: now() + 3600 })), /not valid yet/],
  ['with nbf just past the clock skew', () => signIdToken(googleKey, claims({ nbf: now() + 301 + 5 })), /not valid yet/],
  ['with a non-numeric nbf', () => signIdToken(googleKey, claims({ nbf: 'later' })), /invalid nbf/],
  ['lifetime over a day', () => signIdToken(googleKey, claims({ exp: now() + 3 * 86400 })), /lifetime/],
  ['without exp', () => signIdToken(googleKey, claims({ exp: undefined })), /iat\/exp/],
  ['without iat', () => signIdToken(googleKey, claims({ iat: undefined })), /iat\/exp/],
  ['with a non-numeric exp', () => signIdToken(googleKey, claims({ exp: 'soon' })), /iat\/exp/],
  ['for another audience', () => signIdToken(googleKey, claims({ aud: 'https://someone-else.a.run.app' })), /audience/],
  ['from another issuer', () => signIdToken(googleKey, claims({ iss: 'https://evil.example' })), /issuer/],
  ['from the scheme-less issuer', () => signIdToken(googleKey, claims({ iss: 'accounts.google.com' })), /issuer/],
  ['with email_verified false', () => signIdToken(googleKey, claims({ email_verified: false })), /not verified/],
  ['without email_verified', () => signIdToken(googleKey, claims({ email_verified: undefined })), /not verified/],
  ['with email_verified "true" (a string)', () => signIdToken(googleKey, claims({ email_verified: 'true' })), /not verified/],
  ['without email', () => signIdToken(googleKey, claims({ email: undefined })), /no email/],
  ['signed by another key under the published kid', () => signIdToken(strangerKey, claims()), /signature is invalid/],
  ['with a payload changed after signing', () => {
    const [header, , signature] = signIdToken(googleKey, claims()).split('.')
    return `${header}.${Buffer.from(JSON.stringify(claims({ email: 'root@evil.com' }))).toString('base64url')}.${signature}`
  }, /signature is invalid/],
  ['with an unknown kid', () => signIdToken(unlistedKey, claims()), /unknown key/],
  ['with alg none', () => signIdToken(googleKey, claims(), { alg: 'none' }), /RS256/],
  ['with alg HS256', () => signIdToken(googleKey, claims(), { alg: 'HS256' }), /RS256/],
  ['without kid', () => signIdToken(googleKey, claims(), { kid: undefined }), /key id/],
  ['with two segments', () => 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0', /malformed/],
  ['with four segments', () => `${signIdToken(googleKey, claims())}.AAAA`, /malformed/],
  ['with an empty signature', () => `${signIdToken(googleKey, claims()).split('.').slice(0, 2).join('.')}.`, /malformed/],
  ['with non-base64url characters', () => 'ey+J.ey/J.sig=', /malformed/],
  ['whose header is not JSON', () => 'bm90LWpzb24.eyJzdWIiOiIxIn0.c2ln', /not a JSON object/],
  ['whose payload is a JSON array', () => `${Buffer.from('{"alg":"RS256","kid":"google-key-1"}').toString('base64url')}.${Buffer.from('[1]').toString('base64url')}.c2ln`, /not a JSON object/],
  ['that is far too long', () => `${'a'.repeat(9000)}.b.c`, /too long/]
]

for (const [what, makeToken, reason] of rejected) {
  t.test(`an ID token ${what} is refused with 401`, async t => {
    const token = makeToken()
    const error = await refusal(bearer(token))
    t.equal(error.status, 'UNAUTHENTICATED')
    t.equal(error.httpCode, 401)
    t.match(error.message, reason)
    t.same(leaksOf(error, [token]), [], 'no part of the token is echoed')
    t.equal(error.cause, undefined, 'the library error (which quotes the token) is not kept as cause')
  })
}

t.test('malformed Authorization headers are refused with 401', async t => {
  const cases: Array<[string, RegExp]> = [
    ['Basic dXNlcjpwYXNz', /must be "Bearer/],
    ['Bearer', /must be "Bearer|malformed/],
    ['Bearer ', /malformed/],
    ['Bearer a b', /malformed/],
    ['Token abc.def.ghi', /must be "Bearer/],
    ['', /must be "Bearer/]
  ]
  for (const [header, reason] of cases) {
    const error = await refusal({ authorization: header })
    t.equal(error.httpCode, 401, JSON.stringify(header))
    t.match(error.message, reason, JSON.stringify(header))
  }
})

t.test('no credentials: 401 naming only the enabled mode, even when an X-API-Key is sent', async t => {
  for (const headers of [{}, { 'x-api-key': 'some-key' }] as Array<Record<string, string>>) {
    const error = await refusal(headers)
    t.equal(error.httpCode, 401)
    t.equal(error.message, 'missing credentials: send Authorization: Bearer <Google ID token>')
  }
})

t.test('a repeated Authorization header is refused', async t => {
  const token = signIdToken(googleKey, claims())
  const auth = createAuthenticator(config())
  await t.rejects(auth.authenticate({ authorization: [`Bearer ${token}`, `Bearer ${token}`] }), { status: 'UNAUTHENTICATED', message: /exactly one/ })
})

t.test('malformed tokens are refused without fetching certificates', async t => {
  const before = certs.hits
  const auth = createAuthenticator(config())
  for (const token of ['x', 'a.b.c', 'bm90LWpzb24.eyJzdWIiOiIxIn0.c2ln', signIdToken(googleKey, claims(), { alg: 'none' })]) {
    await t.rejects(auth.authenticate(bearer(token)), { name: 'ApiError', httpCode: 401 })
  }
  t.equal(certs.hits, before, 'the certificates server was not asked')
})

t.test('certificates are fetched once and cached per Cache-Control', async t => {
  const before = certs.hits
  const auth = createAuthenticator(config())
  const tokens = Array.from({ length: 25 }, (_, i) => signIdToken(googleKey, claims({ email: `svc-${i}@p.iam.gserviceaccount.com` })))
  const names = await Promise.all(tokens.map(async token => (await auth.authenticate(bearer(token))).name))
  for (const token of tokens.slice(0, 10)) await auth.authenticate(bearer(token))
  await t.rejects(auth.authenticate(bearer(signIdToken(strangerKey, claims()))), { name: 'ApiError', httpCode: 401 })
  t.equal(names.length, 25)
  t.equal(names[7], 'svc-7@p.iam.gserviceaccount.com')
  t.equal(certs.hits - before, 1, '36 verifications (25 of them concurrent on a cold cache), one certificates request')
})

t.test('without max-age the library does not cache: each verification fetches', async t => {
  certs.cacheControl = undefined
  t.teardown(() => { certs.cacheControl = 'public, max-age=21600' })
  const before = certs.hits
  const auth = createAuthenticator(config())
  for (let i = 0; i < 3; i++) await auth.authenticate(bearer(signIdToken(googleKey, claims())))
  t.equal(certs.hits - before, 3, 'caching follows the response, so the custom URL is not cached blindly either')
})

t.test('certificates that cannot be fetched give 503 UNAVAILABLE, not 401', async t => {
  certs.status = 404
  t.teardown(() => { certs.status = 200 })
  const token = signIdToken(googleKey, claims())
  const error = await refusal(bearer(token))
  t.equal(error.status, 'UNAVAILABLE')
  t.equal(error.httpCode, 503)
  t.equal(error.retryAfterSeconds, 5)
  t.same(leaksOf(error, [token]), [], 'the token is not echoed, not even through the fetch error kept as cause')
})

t.test('the injected clock is checked too: a token past exp by that clock is refused', async t => {
  const later = createAuthenticator(config(), { now: () => Date.now() + 2 * 3600 * 1000 })
  await t.rejects(later.authenticate(bearer(signIdToken(googleKey, claims()))), { httpCode: 401, message: /expired/ })
  const sameTime = createAuthenticator(config(), { now: Date.now })
  t.equal((await sameTime.authenticate(bearer(signIdToken(googleKey, claims())))).name, EMAIL)
})

t.test('an injected OAuth2Client cannot widen what is accepted', async t => {
  // The library's default issuers also allow "accounts.google.com"; jobgate's own check does not.
  const laxClient = new OAuth2Client({ endpoints: { oauth2FederatedSignonPemCertsUrl: certs.url } })
  const auth = createAuthenticator(config(), { oauthClient: laxClient })
  t.equal((await auth.authenticate(bearer(signIdToken(googleKey, claims())))).name, EMAIL, 'a good token passes')
  await t.rejects(auth.authenticate(bearer(signIdToken(googleKey, claims({ iss: 'accounts.google.com' })))),
    { httpCode: 401, message: /issuer must be https:\/\/accounts.google.com/ })
})

t.test('a client whose ticket has no payload or a stray audience is refused', async t => {
  const token = signIdToken(googleKey, claims())
  const empty = Object.assign(new OAuth2Client(), { verifyIdToken: async () => ({ getPayload: () => undefined }) })
  await t.rejects(createAuthenticator(config(), { oauthClient: empty }).authenticate(bearer(token)), { httpCode: 401, message: /no payload/ })
  const stray = Object.assign(new OAuth2Client(), { verifyIdToken: async () => ({ getPayload: () => claims({ aud: 'elsewhere' }) }) })
  await t.rejects(createAuthenticator(config(), { oauthClient: stray }).authenticate(bearer(token)), { httpCode: 401, message: /audience/ })
  const odd = Object.assign(new OAuth2Client(), { verifyIdToken: async () => { throw new Error(`something new: ${token}`) } })
  const error = await refusal(bearer(token), createAuthenticator(config(), { oauthClient: odd }))
  t.equal(error.message, 'ID token rejected', 'an unknown library failure is a generic 401')
  const thrower = Object.assign(new OAuth2Client(), { verifyIdToken: async () => { throw token as unknown as Error } })
  await t.rejects(createAuthenticator(config(), { oauthClient: thrower }).authenticate(bearer(token)), { name: 'ApiError', message: 'ID token rejected' })
  t.same(leaksOf(error, [token]), [], 'no part of the token is echoed')
  t.equal(error.cause, undefined, 'the library error is not kept as cause')
})

t.test('google mode without an audience is a configuration error', async t => {
  t.throws(() => createAuthenticator(config({ audiences: [] })), { name: 'ConfigError', variable: 'JOBGATE_AUDIENCE' })
})
