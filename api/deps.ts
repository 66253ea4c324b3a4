import type { AppDeps } from './app.js'
import { CloudRunRestClient } from './cloudrun/client.js'
import type { Config } from './config.js'
import { GoogleHttp } from './google/http.js'
import { CloudLoggingClient } from './logging/client.js'
import { CachedTokenSource, googleAuthFetcher, type TokenSource } from './google/token.js'

export const USER_AGENT = 'jobgate/0.1.0'

export interface ProductionDeps extends AppDeps {
  close (): Promise<void>
}

/** Real clients for the configured endpoints: one token cache, one HTTP client shared by all. */
export function productionDeps (config: Config, tokens: TokenSource = new CachedTokenSource(googleAuthFetcher())): ProductionDeps {
  const http = new GoogleHttp({ tokens, userAgent: USER_AGENT, limits: { connections: config.upstreamConnections } })
  return {
    cloudRun: new CloudRunRestClient(http, config.runApiEndpoint),
    logs: new CloudLoggingClient(http, config.loggingApiEndpoint),
    close: async () => { await http.close() }
  }
}
