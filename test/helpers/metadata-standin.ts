import { sendJson, startStandIn, type StandIn } from './http-standin.js'

export interface MetadataStandIn extends StandIn {
  /** The access token it hands out. */
  token: string
  /** Requests to the token endpoint. */
  tokenRequests: () => number
}

const FLAVOR = { 'metadata-flavor': 'Google' }
const TOKEN_PATH = '/computeMetadata/v1/instance/service-accounts/default/token'

/**
 * The GCE/Cloud Run metadata server as google-auth-library uses it: the detection probe
 * (`GET /computeMetadata/v1/instance`) and the service account's token endpoint, both
 * answering only requests that carry `Metadata-Flavor: Google`, with that header on the answer.
 */
export async function startMetadataStandIn (token = 'ya29.standin-token-7f3a'): Promise<MetadataStandIn> {
  const standIn = await startStandIn((request, response) => {
    const path = request.url.split('?')[0]
    if (request.headers['metadata-flavor'] !== 'Google') { sendJson(response, 403, { error: 'Metadata-Flavor: Google missing' }, FLAVOR); return }
    if (request.method === 'GET' && path === '/computeMetadata/v1/instance') { sendJson(response, 200, {}, FLAVOR); return }
    if (request.method === 'GET' && path === TOKEN_PATH) { sendJson(response, 200, { access_token: token, expires_in: 3599, token_type: 'Bearer' }, FLAVOR); return }
    sendJson(response, 404, { error: 'not served by this stand-in' }, FLAVOR)
  })
  return { ...standIn, token, tokenRequests: () => standIn.received.filter(r => r.url.split('?')[0] === TOKEN_PATH).length }
}
