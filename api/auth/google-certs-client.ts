import { OAuth2Client } from 'google-auth-library'

type FederatedSignonCertsResponse = Awaited<ReturnType<OAuth2Client['getFederatedSignonCertsAsync']>>

/**
 * An OAuth2Client whose certificates come from `certsUrl` (v1 PEM format, what Node's
 * verifyIdToken reads) and are cached per the response's Cache-Control `max-age` by the library.
 * Concurrent requests on a cold or expired cache share one fetch instead of each fetching.
 */
export class GoogleCertsClient extends OAuth2Client {
  #inFlight: Promise<FederatedSignonCertsResponse> | undefined

  constructor (certsUrl: string, issuers: string[]) {
    super({
      endpoints: { oauth2FederatedSignonPemCertsUrl: certsUrl },
      issuers,
      transporterOptions: { timeout: 10_000 }
    })
  }

  override async getFederatedSignonCertsAsync (): Promise<FederatedSignonCertsResponse> {
    if (this.#inFlight !== undefined) return await this.#inFlight
    this.#inFlight = super.getFederatedSignonCertsAsync()
    try {
      return await this.#inFlight
    } finally {
      this.#inFlight = undefined
    }
  }
}
