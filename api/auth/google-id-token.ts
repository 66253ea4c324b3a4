import type { OAuth2Client } from 'google-auth-library'
import { ApiError, unauthenticated } from '../errors.js'

/** The only issuer accepted: what Google writes into ID tokens for service accounts and WIF. */
export const GOOGLE_ISSUER = 'https://accounts.google.com'

/** Google ID tokens are about 1 KiB; anything far bigger is not one and is refused unread. */
const MAX_TOKEN_LENGTH = 8192
/** google-auth-library's tolerance for clock differences (its private CLOCK_SKEW_SECS_). */
const CLOCK_SKEW_SECONDS = 300
const BASE64URL_SEGMENT = /^[A-Za-z0-9_-]+$/

export interface GoogleVerifierOptions {
  audiences: readonly string[]
  certsUrl: string
  oauthClient?: OAuth2Client
  now: () => number
}

/** Verifies a Google-signed ID token and returns the caller's verified email. */
export type GoogleIdTokenVerifier = (idToken: string) => Promise<string>

export function createGoogleIdTokenVerifier (options: GoogleVerifierOptions): GoogleIdTokenVerifier {
  // google-auth-library is loaded with the first ID token, not at start (API-key callers never need it).
  let client: Promise<OAuth2Client> | undefined
  const certsClient = async (): Promise<OAuth2Client> => new (await import('./google-certs-client.js')).GoogleCertsClient(options.certsUrl, [GOOGLE_ISSUER])
  const audiences = [...options.audiences]
  return async idToken => {
    assertWellFormed(idToken)
    let payload
    try {
      client ??= options.oauthClient === undefined ? certsClient() : Promise.resolve(options.oauthClient)
      const ticket = await (await client).verifyIdToken({ idToken, audience: audiences })
      payload = ticket.getPayload()
    } catch (error) {
      throw verificationFailure(error)
    }
    if (payload === undefined) throw unauthenticated('ID token has no payload')
    // Checked again here so an injected client with laxer settings cannot widen what is accepted.
    if (payload.iss !== GOOGLE_ISSUER) throw unauthenticated(`ID token issuer must be ${GOOGLE_ISSUER}`)
    if (!audiences.includes(payload.aud)) throw unauthenticated('ID token audience is not accepted here')
    if (typeof payload.exp !== 'number' || payload.exp + CLOCK_SKEW_SECONDS < options.now() / 1000) {
      throw unauthenticated('ID token has expired')
    }
    // google-auth-library checks iat and exp but not nbf: a token not valid yet is refused here (same skew).
    const nbf = (payload as { nbf?: unknown }).nbf
    if (nbf !== undefined && (typeof nbf !== 'number' || !Number.isFinite(nbf))) throw unauthenticated('ID token has an invalid nbf')
    if (typeof nbf === 'number' && nbf - CLOCK_SKEW_SECONDS > options.now() / 1000) throw unauthenticated('ID token is not valid yet')
    if (payload.email_verified !== true) throw unauthenticated('ID token email is not verified')
    if (typeof payload.email !== 'string' || payload.email === '') throw unauthenticated('ID token has no email claim')
    return payload.email
  }
}

/** Cheap shape checks, so garbage is refused without touching the network or the certificates. */
function assertWellFormed (idToken: string): void {
  if (idToken.length > MAX_TOKEN_LENGTH) throw unauthenticated('ID token is too long')
  const segments = idToken.split('.')
  if (segments.length !== 3 || !segments.every(segment => BASE64URL_SEGMENT.test(segment))) {
    throw unauthenticated('malformed ID token: expected a JWT (three base64url parts)')
  }
  const [headerPart = '', payloadPart = ''] = segments
  const header = decodeJsonObject(headerPart)
  if (header === undefined || decodeJsonObject(payloadPart) === undefined) {
    throw unauthenticated('malformed ID token: header or payload is not a JSON object')
  }
  if (header.alg !== 'RS256') throw unauthenticated('ID token must be signed with RS256')
  if (typeof header.kid !== 'string') throw unauthenticated('ID token header has no key id (kid)')
}

function decodeJsonObject (segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'))
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

/**
 * google-auth-library's messages quote the whole token or payload, so they are never passed on:
 * each is mapped to a short reason, and the original is dropped (not even kept as `cause`).
 */
const libraryReasons: ReadonlyArray<[prefix: string, reason: string]> = [
  ['No pem found for envelope', 'ID token is signed by an unknown key'],
  ['Invalid token signature', 'ID token signature is invalid'],
  ['Token used too late', 'ID token has expired'],
  ['Token used too early', 'ID token is not valid yet'],
  ['Expiration time too far in future', 'ID token lifetime is too long'],
  ['Invalid issuer', `ID token issuer must be ${GOOGLE_ISSUER}`],
  ['Wrong recipient', 'ID token audience is not accepted here'],
  ['No issue time in token', 'ID token has no valid iat/exp'],
  ['No expiration time in token', 'ID token has no valid iat/exp'],
  ['iat field using invalid format', 'ID token has no valid iat/exp'],
  ['exp field using invalid format', 'ID token has no valid iat/exp']
]

function verificationFailure (error: unknown): ApiError {
  const message = error instanceof Error ? error.message : ''
  if (message.startsWith('Failed to retrieve verification certificates')) {
    // Not the caller's fault: a 401 would make clients drop a good token; tell them to retry.
    return new ApiError('UNAVAILABLE', 'cannot fetch Google\'s token-signing certificates; try again shortly', {
      httpCode: 503, retryAfterSeconds: 5, cause: error
    })
  }
  const reason = libraryReasons.find(([prefix]) => message.startsWith(prefix))?.[1]
  return unauthenticated(reason ?? 'ID token rejected')
}
