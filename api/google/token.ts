import type { GoogleAuth } from 'google-auth-library'
import { googleAuthLibrary } from './auth-library.js'
import { UpstreamError } from './upstream-error.js'

export interface AccessToken {
  token: string
  /** Epoch milliseconds. */
  expiresAt: number
}

/** Hands out the service's access token for Google APIs. */
export interface TokenSource {
  getToken (): Promise<string>
  /** Forgets the cached token (the server rejected it), so the next getToken fetches a new one. */
  invalidate? (): void
}

/** `force`: the last token was rejected; do not hand back a cached copy of it. */
export type FetchToken = (force: boolean) => Promise<AccessToken>

const FIVE_MINUTES = 5 * 60_000

/**
 * Caches a token and refreshes it before it expires; concurrent callers share one refresh,
 * so a burst on a cold start costs one metadata-server round trip, not one per request.
 */
export class CachedTokenSource implements TokenSource {
  #current: AccessToken | undefined
  #refreshAt = 0
  #rejected = false
  #inflight: Promise<string> | undefined
  readonly #fetchToken: FetchToken
  readonly #now: () => number

  constructor (fetchToken: FetchToken, now: () => number = Date.now) {
    this.#fetchToken = fetchToken
    this.#now = now
  }

  async getToken (): Promise<string> {
    if (this.#current !== undefined && this.#now() < this.#refreshAt) return this.#current.token
    this.#inflight ??= this.#refresh().finally(() => { this.#inflight = undefined })
    return await this.#inflight
  }

  invalidate (): void {
    this.#refreshAt = 0
    this.#rejected = true
  }

  async #refresh (): Promise<string> {
    const fetchedAt = this.#now()
    const next = await this.#fetchToken(this.#rejected)
    this.#rejected = false
    // Refresh five minutes early, or half-way through a token that lives less than ten.
    const margin = Math.min(FIVE_MINUTES, (next.expiresAt - fetchedAt) / 2)
    this.#current = next
    this.#refreshAt = next.expiresAt - margin
    return next.token
  }
}

const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform'

/** google-auth-library is loaded at the first token fetch, not at start: most requests of a cold instance need none. */
const applicationDefault = async (): Promise<GoogleAuth> => new (await googleAuthLibrary()).GoogleAuth({ scopes: [CLOUD_PLATFORM] })

/** Tokens from Application Default Credentials: the metadata server on Cloud Run, gcloud's ADC on a laptop. */
export function googleAuthFetcher (auth: GoogleAuth | (() => Promise<GoogleAuth>) = applicationDefault): FetchToken {
  let ready: Promise<GoogleAuth> | undefined
  return async force => {
    try {
      ready ??= typeof auth === 'function' ? auth() : Promise.resolve(auth)
      const client = await (await ready).getClient()
      // The library caches too: mark its copy expired so it asks its source for a new one.
      if (force) client.credentials = { ...client.credentials, expiry_date: 1 }
      const { token } = await client.getAccessToken()
      if (token == null || token === '') throw new Error('the credential returned an empty access token')
      return { token, expiresAt: client.credentials.expiry_date ?? Date.now() + 3_600_000 }
    } catch (err) {
      // The library's details (metadata answers, paths) stay in `cause`, for the log only.
      throw new UpstreamError('token', 'could not get an access token for Google APIs', { cause: err })
    }
  }
}

/**
 * Tokens from the metadata server only (GCE_METADATA_HOST), skipping ADC discovery: in local mode
 * a laptop's real gcloud credentials must never be sent to the emulator.
 */
export function metadataServerFetcher (): FetchToken {
  return googleAuthFetcher(async () => {
    const { Compute, GoogleAuth } = await googleAuthLibrary()
    return new GoogleAuth({ authClient: new Compute({ scopes: [CLOUD_PLATFORM] }) })
  })
}
