import { sendJson, startStandIn, type StandIn } from './http-standin.js'

export interface MetadataStandIn extends StandIn {
  /** The access token it hands out. */
  token: string
  /** Requests to the token endpoint. */
  tokenRequests: () => number
  /** The audiences ID tokens were asked for, in order. */
  identityAudiences: () => string[]
}

const FLAVOR = { 'metadata-flavor': 'Google' }
const TOKEN_PATH = '/computeMetadata/v1/instance/service-accounts/default/token'
const IDENTITY_PATH = '/computeMetadata/v1/instance/service-accounts/default/identity'

/** An unsigned JWT with the claims google-auth-library reads (it checks `exp`, not the signature). */
export const idTokenFor = (audience: string): string =>
  [{ alg: 'none' }, { aud: audience, exp: Math.floor(Date.now() / 1000) + 3600 }, 'sig'].map(part => Buffer.from(JSON.stringify(part)).toString('base64url')).join('.')

/**
 * The GCE/Cloud Run metadata server as google-auth-library uses it: the detection probe
 * (`GET /computeMetadata/v1/instance`), the service account's token and ID-token endpoints, all
 * answering only requests that carry `Metadata-Flavor: Google`, with that header on the answer.
 */
export async function startMetadataStandIn (token = 'ya29.standin-token-7f3a'): Promise<MetadataStandIn> {
  const standIn = await startStandIn((request, response) => {
    const path = request.url.split('?')[0]
    if (request.headers['metadata-flavor'] !== 'Google') { sendJson(response, 403, { error: 'Metadata-Flavor: Google missing' }, FLAVOR); return }
    if (request.method === 'GET' && path === '/computeMetadata/v1/instance') { sendJson(response, 200, {}, FLAVOR); return }
    if (request.method === 'GET' && path === TOKEN_PATH) { sendJson(response, 200, { access_token: token, expires_in: 3599, token_type: 'Bearer' }, FLAVOR); return }
    if (request.method === 'GET' && path === IDENTITY_PATH) {
      response.writeHead(200, { 'content-type': 'text/html', ...FLAVOR }).end(idTokenFor(new URL(request.url, 'http://m').searchParams.get('audience') ?? ''))
      return
    }
    sendJson(response, 404, { error: 'not served by this stand-in' }, FLAVOR)
  })
  const at = (path: string): typeof standIn.received => standIn.received.filter(r => r.url.split('?')[0] === path)
  return {
    ...standIn,
    token,
    tokenRequests: () => at(TOKEN_PATH).length,
    identityAudiences: () => at(IDENTITY_PATH).map(r => new URL(r.url, 'http://m').searchParams.get('audience') ?? '')
  }
}
