import type { OAuth2Client } from 'google-auth-library'
import { ConfigError } from '../config-error.js'
import { unauthenticated } from '../errors.js'
import { createApiKeyLookup } from './api-key.js'
import { assertSingleCredentials, bearerToken, singleHeader } from './credentials.js'
import { createGoogleIdTokenVerifier } from './google-id-token.js'
import type { AuthConfig, Principal, RequestHeaders } from './types.js'

export interface Authenticator {
  /**
   * Resolves to the caller, or rejects with ApiError UNAUTHENTICATED (503 UNAVAILABLE if Google's certificates cannot be fetched).
   * `rawHeaders` (Node's list, duplicates kept) lets a repeated Authorization header be refused: `headers` keeps only the first.
   */
  authenticate (headers: RequestHeaders, rawHeaders?: readonly string[]): Promise<Principal>
  /** True when authentication is off (`JOBGATE_AUTH=none`): the server warns at start. */
  readonly anonymous: boolean
}

export interface AuthenticatorDeps {
  /** Replaces the client built from `config.certsUrl` (issuer, audience, exp and email are still checked here). */
  oauthClient?: OAuth2Client
  /** Clock in milliseconds for the expiry check done here (the library uses the process clock). */
  now?: () => number
}

/** A key longer than this is not one of ours; it is refused without hashing megabytes. */
const MAX_API_KEY_LENGTH = 1024

/** The caller when authentication is off, and on public routes. */
export const ANONYMOUS: Readonly<Principal> = Object.freeze({ name: 'anonymous', via: 'anonymous', tenantFree: true })

export function createAuthenticator (config: AuthConfig, deps: AuthenticatorDeps = {}): Authenticator {
  if (config.modes.length === 0) {
    if (!config.allowUnauthenticated) throw new ConfigError('JOBGATE_AUTH', 'no authentication mode is on and unauthenticated access is not allowed')
    return { anonymous: true, authenticate: async () => ({ ...ANONYMOUS }) }
  }
  const byApiKey = config.modes.includes('apikey') ? apiKeyAuthenticator(config) : undefined
  const byIdToken = config.modes.includes('google') ? idTokenAuthenticator(config, deps) : undefined
  const expected: string[] = []
  if (byApiKey !== undefined) expected.push('X-API-Key')
  if (byIdToken !== undefined) expected.push('Authorization: Bearer <Google ID token>')
  const missing = `missing credentials: send ${expected.join(' or ')}`

  return {
    anonymous: false,
    async authenticate (headers, rawHeaders = []) {
      assertSingleCredentials(rawHeaders)
      // X-API-Key first: behind a private Cloud Run service, Authorization may carry Cloud Run's own token.
      if (byApiKey !== undefined) {
        const key = singleHeader(headers, 'x-api-key')
        if (key !== undefined) return byApiKey(key)
      }
      if (byIdToken !== undefined) {
        const authorization = singleHeader(headers, 'authorization')
        if (authorization !== undefined) return await byIdToken(authorization)
      }
      throw unauthenticated(missing)
    }
  }
}

function apiKeyAuthenticator (config: AuthConfig): (key: string) => Principal {
  if (config.apiKeys.length === 0) throw new ConfigError('JOBGATE_API_KEYS', 'apikey mode is on but no keys are configured')
  const lookup = createApiKeyLookup(config.apiKeys)
  return key => {
    if (key === '') throw unauthenticated('X-API-Key is empty')
    const entry = key.length > MAX_API_KEY_LENGTH ? undefined : lookup(key)
    if (entry === undefined) throw unauthenticated('API key is not valid')
    const principal: Principal = { name: entry.principal, via: 'apikey' }
    if (entry.tenant !== undefined) principal.tenant = entry.tenant
    if (entry.tenantFree !== undefined) principal.tenantFree = entry.tenantFree
    return principal
  }
}

function idTokenAuthenticator (config: AuthConfig, deps: AuthenticatorDeps): (authorization: string) => Promise<Principal> {
  if (config.audiences.length === 0) throw new ConfigError('JOBGATE_AUDIENCE', 'google mode is on but no audience is configured')
  const verify = createGoogleIdTokenVerifier({
    audiences: config.audiences,
    certsUrl: config.certsUrl,
    now: deps.now ?? Date.now,
    ...(deps.oauthClient === undefined ? {} : { oauthClient: deps.oauthClient })
  })
  return async authorization => ({ name: await verify(bearerToken(authorization)), via: 'google' })
}
