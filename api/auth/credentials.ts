import { unauthenticated } from '../errors.js'
import type { RequestHeaders } from './types.js'

/** The one value of a header, looked up case-insensitively; a repeated header is refused. */
export function singleHeader (headers: RequestHeaders, name: string): string | undefined {
  const values: string[] = []
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name || value === undefined) continue
    values.push(...(Array.isArray(value) ? value : [value]))
  }
  if (values.length > 1) throw unauthenticated(`send exactly one ${name} header`)
  return values[0]
}

/** The token of `Authorization: Bearer <token>` (scheme case-insensitive, RFC 9110). */
export function bearerToken (authorization: string): string {
  const space = authorization.indexOf(' ')
  const scheme = space === -1 ? authorization : authorization.slice(0, space)
  const token = space === -1 ? '' : authorization.slice(space + 1).trimStart()
  if (scheme.toLowerCase() !== 'bearer') throw unauthenticated('Authorization must be "Bearer <Google ID token>"')
  if (token === '' || /\s/.test(token)) throw unauthenticated('malformed Authorization header: expected "Bearer <Google ID token>"')
  return token
}

/** Credential headers that must come once: Node keeps only the first of two `Authorization` headers, so only the raw list shows a second. */
const CREDENTIAL_HEADERS = ['authorization', 'x-api-key']

/** Refuses a request that repeats a credential header (raw header list: name, value, name, value…). */
export function assertSingleCredentials (rawHeaders: readonly string[]): void {
  for (const name of CREDENTIAL_HEADERS) {
    let count = 0
    for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]?.toLowerCase() === name) count++
    if (count > 1) throw unauthenticated(`send exactly one ${name} header`)
  }
}
