/** Inbound authentication: who is calling. The only entry point of api/auth/. */
export type { ApiKeyEntry, AuthConfig, AuthMode, Principal, RequestHeaders } from './types.js'
export { loadAuthConfig, GOOGLE_CERTS_URL } from './config.js'
export { ANONYMOUS, createAuthenticator, type Authenticator, type AuthenticatorDeps } from './authenticator.js'
export { hashApiKey } from './api-key.js'
export { principalMatches } from './principal-match.js'
export { GOOGLE_ISSUER } from './google-id-token.js'
