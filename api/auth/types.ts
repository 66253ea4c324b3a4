/** Who is calling: what authorization (job `principals`) and tenant scope are decided on. */
export interface Principal {
  /** API key entries: the configured `principal`; Google ID tokens: the `email` claim. */
  name: string
  /** The tenant this caller is bound to (API key entries only). */
  tenant?: string
  /** May choose the tenant of a tenant-scoped job itself (no tenant bound). */
  tenantFree?: boolean
  via: 'apikey' | 'google' | 'anonymous'
}

export type AuthMode = 'apikey' | 'google'

/** One accepted API key: only the SHA-256 of the key is ever stored. */
export interface ApiKeyEntry {
  /** Lower-case hex of SHA-256 of the key (64 characters). */
  sha256: string
  principal: string
  tenant?: string
  tenantFree?: boolean
}

export interface AuthConfig {
  /** Enabled modes; empty means `none` (every request is anonymous). */
  modes: AuthMode[]
  apiKeys: ApiKeyEntry[]
  /** Accepted `aud` values of Google ID tokens. */
  audiences: string[]
  /** Where Google's token-signing certificates are fetched from (v1 PEM format). */
  certsUrl: string
  /** Running without authentication is permitted: local mode, or `JOBGATE_ALLOW_UNAUTHENTICATED=true`. */
  allowUnauthenticated: boolean
}

/** Request headers as Node and Fastify hand them over (names lower-case). */
export type RequestHeaders = Record<string, string | string[] | undefined>
