import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { sendJson, startStandIn, type StandIn } from './http-standin.js'
import { idTokenFor } from './metadata-standin.js'

export const SERVICE_ACCOUNT = 'deployer@ci-project.iam.gserviceaccount.com'
const GITHUB_REQUEST_TOKEN = 'gh-request-token-1f2e'
const GITHUB_OIDC_TOKEN = 'gh-oidc-jwt-9a8b'
const FEDERATED_TOKEN = 'ya29.federated-7c6d'

export interface WorkloadIdentityStandIn extends StandIn {
  /** Writes the credentials file google-github-actions/auth leaves on a runner (WIF with a service account); returns its path. */
  credentialsFile: (dir: string) => string
  /** The audiences generateIdToken was asked for, by a caller holding the federated token. */
  idTokenAudiences: () => string[]
  /** The ID token it hands out for `audience`. */
  idTokenFor: (audience: string) => string
}

/**
 * What Workload Identity Federation from GitHub Actions talks to, on one loopback server: the runner's OIDC
 * token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL), Google's Security Token Service, and IAM Credentials'
 * generateIdToken, each answering only what the step before it handed out.
 */
export async function startWorkloadIdentityStandIn (): Promise<WorkloadIdentityStandIn> {
  // One token per audience, so a test can expect exactly the one handed out.
  const minted = new Map<string, string>()
  const tokenFor = (audience: string): string => minted.get(audience) ?? minted.set(audience, idTokenFor(audience)).get(audience) as string
  const standIn = await startStandIn((request, response) => {
    const path = request.url.split('?')[0]
    if (request.method === 'GET' && path === '/github/oidc' && request.headers.authorization === `Bearer ${GITHUB_REQUEST_TOKEN}`) {
      sendJson(response, 200, { value: GITHUB_OIDC_TOKEN })
    } else if (request.method === 'POST' && path === '/sts/v1/token' && new URLSearchParams(request.body).get('subject_token') === GITHUB_OIDC_TOKEN) {
      sendJson(response, 200, { access_token: FEDERATED_TOKEN, issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer', expires_in: 3600 })
    } else if (request.method === 'POST' && path === `/iam/v1/projects/-/serviceAccounts/${SERVICE_ACCOUNT}:generateIdToken` &&
      request.headers.authorization === `Bearer ${FEDERATED_TOKEN}`) {
      sendJson(response, 200, { token: tokenFor(String((JSON.parse(request.body) as { audience?: unknown }).audience)) })
    } else {
      sendJson(response, 403, { error: { code: 403, status: 'PERMISSION_DENIED', message: `not served by this stand-in: ${request.method} ${path}` } })
    }
  })
  const generateIdTokenCalls = (): typeof standIn.received => standIn.received.filter(request => request.url.endsWith(':generateIdToken'))
  return {
    ...standIn,
    idTokenFor: tokenFor,
    idTokenAudiences: () => generateIdTokenCalls().map(request => String((JSON.parse(request.body) as { audience?: unknown }).audience)),
    credentialsFile: dir => {
      const path = join(dir, 'gha-creds-1234.json')
      writeFileSync(path, JSON.stringify({
        type: 'external_account',
        audience: '//iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/github/providers/my-repo',
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        token_url: `${standIn.url}/sts/v1/token`,
        service_account_impersonation_url: `${standIn.url}/iam/v1/projects/-/serviceAccounts/${SERVICE_ACCOUNT}:generateAccessToken`,
        credential_source: {
          url: `${standIn.url}/github/oidc?audience=//iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/github/providers/my-repo`,
          headers: { Authorization: `Bearer ${GITHUB_REQUEST_TOKEN}` },
          format: { type: 'json', subject_token_field_name: 'value' }
        }
      }))
      return path
    }
  }
}
