import type { TokenIssuer } from './auth.js'
import type { EmulatorRequest, EmulatorResponse } from './http.js'

/**
 * The GCE metadata server as a Cloud Run instance sees it: project id and number, region,
 * the default service account's email and access tokens. Every answer carries
 * `Metadata-Flavor: Google` (gcp-metadata checks it); every request under /computeMetadata/v1
 * must send it, or gets a 403.
 */
export interface MetadataContext {
  projectId: string
  projectNumber: string
  region: string
  serviceAccountEmail: string
  tokens: TokenIssuer
}

const flavor = { 'Metadata-Flavor': 'Google' }

function text (body: string, status = 200): EmulatorResponse {
  return { status, text: body, headers: { ...flavor } }
}

export function isMetadataPath (path: string): boolean {
  return path === '/' || path === '/computeMetadata' || path.startsWith('/computeMetadata/')
}

export function metadataResponse (request: EmulatorRequest, context: MetadataContext): EmulatorResponse {
  const path = request.path.replace(/\/+$/, '')
  if (path === '' || path === '/computeMetadata') return text(path === '' ? 'computeMetadata/\n' : 'v1/\n')
  if (request.method !== 'GET') return text('Method Not Allowed\n', 405)
  if (request.headers['metadata-flavor'] !== 'Google') return text('Missing required header "Metadata-Flavor": "Google"\n', 403)
  const key = path.replace(/^\/computeMetadata\/v1\/?/, '')
  const account = /^instance\/service-accounts\/([^/]+)\/(email|token|scopes|aliases)$/.exec(key)
  if (account && (account[1] === 'default' || account[1] === context.serviceAccountEmail)) {
    switch (account[2]) {
      case 'email': return text(context.serviceAccountEmail)
      case 'token': return { status: 200, json: context.tokens.issue(), headers: { ...flavor } }
      case 'scopes': return text('https://www.googleapis.com/auth/cloud-platform\n')
      default: return text('default\n')
    }
  }
  switch (key) {
    case '': return text('instance/\nproject/\nuniverse/\n')
    case 'instance': return text('id\nregion\nservice-accounts/\nzone\n')
    case 'instance/id': return text(`00${context.projectNumber}`)
    case 'instance/region': return text(`projects/${context.projectNumber}/regions/${context.region}`)
    case 'instance/zone': return text(`projects/${context.projectNumber}/zones/${context.region}-1`)
    case 'instance/service-accounts': return text(`default/\n${context.serviceAccountEmail}/\n`)
    case 'project': return text('numeric-project-id\nproject-id\n')
    case 'project/project-id': return text(context.projectId)
    case 'project/numeric-project-id': return text(context.projectNumber)
    case 'universe/universe-domain': return text('googleapis.com')
    default: return text('Not Found\n', 404)
  }
}
