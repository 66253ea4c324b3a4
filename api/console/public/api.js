/** Talks to jobgate's API with the credential the person pasted; it lives in this tab's sessionStorage only. */

const CREDENTIAL = 'jobgate.credential'

/** `{ kind: 'apikey' | 'idtoken', value }`, or null when signed out. */
export function credential () {
  try { return JSON.parse(sessionStorage.getItem(CREDENTIAL) ?? 'null') } catch { return null }
}

export function signIn (kind, value) { sessionStorage.setItem(CREDENTIAL, JSON.stringify({ kind, value })) }

/** Forgets everything this tab kept: the credential and what it sent (`jobgate.sent.…`, which can hold a typed secret). */
export function signOut () { sessionStorage.clear() }

export function authHeaders () {
  const held = credential()
  if (held === null) return {}
  return held.kind === 'apikey' ? { 'x-api-key': held.value } : { authorization: `Bearer ${held.value}` }
}

/** An API error as the API phrased it (status 0: the network, not the API). */
export class ApiProblem extends Error {
  constructor (status, code, message, retryAfterSeconds) {
    super(message)
    this.status = status
    this.code = code
    this.retryAfterSeconds = retryAfterSeconds
  }
}

export const networkDown = () => new ApiProblem(0, 'NETWORK', 'jobgate cannot be reached: the network is down or the server stopped.')

/** `Retry-After` in seconds, from either of its forms (seconds or an HTTP date). */
export function retryAfterSeconds (header, now = Date.now()) {
  if (header === null || header === undefined || header === '') return undefined
  if (/^\d+$/.test(header)) return Number(header)
  const at = Date.parse(header)
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000))
}

export async function problemOf (response) {
  let error = {}
  try { error = (await response.json()).error ?? {} } catch { /* not our JSON: a proxy's page */ }
  return new ApiProblem(response.status, error.status ?? `HTTP ${response.status}`, error.message ?? response.statusText,
    retryAfterSeconds(response.headers.get('retry-after')))
}

/** fetch() with the credential, throwing ApiProblem for every answer that is not 2xx. */
export async function send (path, { method = 'GET', body, headers = {}, signal, accept = 'application/json' } = {}) {
  let response
  try {
    response = await fetch(path, {
      method,
      signal,
      headers: { accept, ...authHeaders(), ...(body !== undefined && { 'content-type': 'application/json' }), ...headers },
      ...(body !== undefined && { body: JSON.stringify(body) })
    })
  } catch (error) {
    if (signal?.aborted) throw error
    throw networkDown()
  }
  if (!response.ok) throw await problemOf(response)
  return response
}

export async function api (path, options) {
  return await (await send(path, options)).json()
}

export const runPath = (job, run) => `/v1/jobs/${encodeURIComponent(job)}/runs${run === undefined ? '' : `/${encodeURIComponent(run)}`}`

/** A fresh Idempotency-Key; getRandomValues also works on plain http, where randomUUID does not exist. */
export function newIdempotencyKey () {
  return [...crypto.getRandomValues(new Uint8Array(16))].map(byte => byte.toString(16).padStart(2, '0')).join('')
}
