import { randomBytes } from 'node:crypto'
import { permissionDenied, unauthenticated } from './errors.js'

export interface IssuedToken {
  access_token: string
  expires_in: number
  token_type: 'Bearer'
}

/** The access tokens the metadata server hands out; the APIs accept only those, until they expire. */
export class TokenIssuer {
  readonly #expiryOf = new Map<string, number>()

  readonly #lifetimeSeconds: number

  constructor (lifetimeSeconds: number) {
    this.#lifetimeSeconds = lifetimeSeconds
  }

  issue (): IssuedToken {
    const token = `ya29.emulator-${randomBytes(24).toString('base64url')}`
    this.#expiryOf.set(token, Date.now() + this.#lifetimeSeconds * 1000)
    return { access_token: token, expires_in: this.#lifetimeSeconds, token_type: 'Bearer' }
  }

  /** Throws Google's 401 unless `authorization` is `Bearer <a live token issued here>`. */
  check (authorization: string | undefined): void {
    const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1]
    const expiry = token === undefined ? undefined : this.#expiryOf.get(token)
    if (expiry === undefined || expiry <= Date.now()) throw unauthenticated()
  }

  /** Makes every token issued so far invalid (as if they had all expired). */
  expireAll (): void {
    for (const token of this.#expiryOf.keys()) this.#expiryOf.set(token, 0)
  }
}

/** The caller's IAM permissions: all granted, except those a test denies. */
export class Permissions {
  readonly #denied = new Set<string>()

  deny (permission: string): void {
    this.#denied.add(permission)
  }

  allow (permission: string): void {
    this.#denied.delete(permission)
  }

  /** Throws Google's 403 when `permission` is denied. */
  check (permission: string, resource: string): void {
    if (this.#denied.has(permission)) throw permissionDenied(permission, resource)
  }
}
