import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto'

/** An RSA signing key as Google has them: a private half for the test, a kid and public PEM for the certs. */
export interface SigningKey { kid: string, privateKey: KeyObject, publicPem: string }

export function newSigningKey (kid: string): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return { kid, privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() }
}

export const AUDIENCE = 'https://jobgate-abc123-ew.a.run.app'
export const EMAIL = 'deploy@ci-project.iam.gserviceaccount.com'

/** Claims of a good Google ID token for a service account; override any of them. */
export function claims (overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000)
  return {
    iss: 'https://accounts.google.com',
    aud: AUDIENCE,
    azp: '1234567890',
    sub: '1234567890',
    email: EMAIL,
    email_verified: true,
    iat: now - 10,
    exp: now + 3600,
    ...overrides
  }
}

const base64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')

/** A real RS256 JWT signed with `key` (the header can be overridden to forge odd ones). */
export function signIdToken (key: SigningKey, payload: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  const signed = `${base64url({ alg: 'RS256', typ: 'JWT', kid: key.kid, ...header })}.${base64url(payload)}`
  return `${signed}.${sign('sha256', Buffer.from(signed), key.privateKey).toString('base64url')}`
}

/** Serves `{kid: PEM}` like https://www.googleapis.com/oauth2/v1/certs, counting requests. */
export interface CertsServer {
  url: string
  hits: number
  status: number
  cacheControl: string | undefined
  close: () => Promise<void>
}

export async function startCertsServer (keys: readonly SigningKey[]): Promise<CertsServer> {
  const body = JSON.stringify(Object.fromEntries(keys.map(key => [key.kid, key.publicPem])))
  const state = { hits: 0, status: 200, cacheControl: 'public, max-age=21600, must-revalidate, no-transform' as string | undefined }
  const server: Server = createServer((_request, response) => {
    state.hits++
    const headers: Record<string, string> = { 'content-type': 'application/json; charset=UTF-8' }
    if (state.cacheControl !== undefined) headers['cache-control'] = state.cacheControl
    response.writeHead(state.status, headers).end(state.status === 200 ? body : '{"error":"not here"}')
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}/oauth2/v1/certs`,
    close: async () => { await new Promise<void>(resolve => server.close(() => resolve())) }
  })
}
