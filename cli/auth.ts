import type { GoogleAuth, IdTokenClient } from 'google-auth-library'
import { federatedIdTokens, isImpersonatingExternalAccount } from './federated-id-token.js'

/** Returns a Google ID token whose audience is the given URL. */
export type IdTokenSource = (audience: string) => Promise<string>

/** How the CLI proves who it is; `headers()` is called per request so tokens can refresh. */
export interface Credentials {
  readonly kind: 'api-key' | 'id-token' | 'google' | 'none'
  headers: () => Promise<Record<string, string>>
}

/** No way to authenticate was found: exit 5 with this message. */
export class AuthUnavailableError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'AuthUnavailableError'
  }
}

type IdTokenClients = Pick<GoogleAuth, 'getIdTokenClient'> & Partial<Pick<GoogleAuth, 'jsonContent' | 'fromJSON'>>
type IdTokens = Pick<IdTokenClient, 'getRequestHeaders'>

// Loaded on first use: runs with an API key never pay for google-auth-library's start-up.
const defaultGoogleAuth = async (): Promise<IdTokenClients> => new (await import('google-auth-library')).GoogleAuth()

/** ID tokens from Application Default Credentials; one client per audience, refreshed before expiry by the library. */
export function googleIdTokenSource (auth?: IdTokenClients): IdTokenSource {
  const clients = new Map<string, Promise<IdTokens>>()
  let authPromise: Promise<IdTokenClients> | undefined
  return async audience => {
    let client = clients.get(audience)
    if (client === undefined) {
      authPromise ??= auth === undefined ? defaultGoogleAuth() : Promise.resolve(auth)
      client = authPromise.then(async a => await idTokenClient(a, audience))
      clients.set(audience, client)
      client.catch(() => clients.delete(audience))
    }
    const headers = await (await client).getRequestHeaders()
    const authorization = headers.get('authorization') ?? ''
    const token = authorization.replace(/^Bearer\s+/i, '')
    if (token === '') throw new Error('the credentials returned no ID token')
    return token
  }
}

/**
 * The library's ID-token client for `audience`; for the Workload Identity Federation file that google-github-actions/auth
 * leaves (which the library cannot mint ID tokens from), one that asks IAM Credentials for them, as that action does.
 */
async function idTokenClient (auth: IdTokenClients, audience: string): Promise<IdTokens> {
  try {
    return await auth.getIdTokenClient(audience)
  } catch (error) {
    const json = auth.jsonContent
    if (auth.fromJSON === undefined || !isImpersonatingExternalAccount(json)) throw error
    const { IdTokenClient } = await import('google-auth-library')
    return new IdTokenClient({ targetAudience: audience, idTokenProvider: federatedIdTokens(auth.fromJSON.bind(auth), json) })
  }
}

const isLoopback = (url: URL): boolean => ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)

/** The ID token audience Cloud Run expects: the service URL without path. */
export const audienceOf = (url: URL): string => url.origin

interface ResolveOptions {
  env: Readonly<Record<string, string | undefined>>
  url: URL
  idTokenSource: IdTokenSource
}

/**
 * API key, else a given ID token, else a Google ID token from ADC. A local (loopback) API
 * without Google credentials is called without any, since local mode usually runs with auth off.
 */
export async function resolveCredentials ({ env, url, idTokenSource }: ResolveOptions): Promise<Credentials> {
  const apiKey = env.JOBGATE_API_KEY
  if (apiKey !== undefined && apiKey !== '') return { kind: 'api-key', headers: async () => ({ 'x-api-key': apiKey }) }
  const idToken = env.JOBGATE_ID_TOKEN
  if (idToken !== undefined && idToken !== '') return { kind: 'id-token', headers: async () => ({ authorization: `Bearer ${idToken}` }) }

  const audience = audienceOf(url)
  try {
    await idTokenSource(audience) // fail fast here, with a clear message, rather than on the first request
  } catch (error) {
    if (isLoopback(url)) return { kind: 'none', headers: async () => ({}) }
    throw new AuthUnavailableError(noCredentialsMessage(url, error))
  }
  return { kind: 'google', headers: async () => ({ authorization: `Bearer ${await idTokenSource(audience)}` }) }
}

function noCredentialsMessage (url: URL, error: unknown): string {
  const reason = error instanceof Error ? error.message : String(error)
  const federated = /Cannot fetch ID token in this environment/i.test(reason)
    ? '\n  Note: Workload Identity Federation credentials mint ID tokens only through a service account: give\n  google-github-actions/auth a service_account, or use its token_format: id_token and pass the id_token output as JOBGATE_ID_TOKEN.'
    : ''
  return `no credentials for ${url.origin}: ${reason}
  Either set JOBGATE_API_KEY to an API key the server accepts (sent as X-API-Key),
  or provide Google credentials that can mint an ID token for ${audienceOf(url)}: the metadata server
  (Cloud Build, GCE, Cloud Run), GOOGLE_APPLICATION_CREDENTIALS with a service-account key,
  or JOBGATE_ID_TOKEN with a ready-made ID token.${federated}`
}

/** gcp-metadata warns on stderr when no metadata server answers; the CLI explains missing credentials itself. */
export function silenceMetadataLookupWarnings (target: Pick<NodeJS.Process, 'emitWarning'> = process): void {
  const original = target.emitWarning.bind(target) as (...args: unknown[]) => void
  target.emitWarning = ((...args: unknown[]) => {
    const [, second] = args
    const type = typeof second === 'string' ? second : (second as { type?: unknown } | undefined)?.type
    if (type !== 'MetadataLookupWarning') original(...args)
  }) as NodeJS.Process['emitWarning']
}
