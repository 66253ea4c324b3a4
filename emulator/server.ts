import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Permissions, TokenIssuer } from './auth.js'
import { errorBody, statusOfHttpCode } from './errors.js'
import type { FaultInjector } from './faults.js'
import { errorResponse, json, jsonBody, readRequest, send, type EmulatorRequest, type EmulatorResponse } from './http.js'
import { parseEntriesListRequest, type LogStore } from './logs.js'
import { isMetadataPath, metadataResponse, type MetadataContext } from './metadata.js'
import type { InjectedFailure, RecordedRequest } from './options.js'
import type { Projects } from './projects.js'
import { notFound, RUN_PREFIX, type RunApi } from './run-api.js'

export const ENTRIES_LIST_PATH = '/v2/entries:list'

export interface ServerDeps {
  runApi: RunApi
  logs: LogStore
  tokens: TokenIssuer
  permissions: Permissions
  projects: Projects
  metadata: MetadataContext
  faults: FaultInjector
  requests: RecordedRequest[]
  log: (line: string) => void
}

/**
 * One HTTP server for the three Google surfaces: the metadata server (/ and /computeMetadata/…),
 * the Cloud Run Admin API v1 (/apis/run.googleapis.com/v1/…) and Cloud Logging's entries:list.
 * Every request is recorded, then may meet an injected failure, then is answered.
 */
export class EmulatorServer {
  readonly http: Server
  readonly #delays = new Set<{ timer: NodeJS.Timeout, resolve: () => void }>()
  #closing = false

  readonly #deps: ServerDeps

  constructor (deps: ServerDeps) {
    this.#deps = deps
    this.http = createServer((req, res) => { void this.#serve(req, res) })
  }

  async #serve (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now()
    let response: EmulatorResponse
    let path = (req.url ?? '').split('?')[0]
    try {
      const request = await readRequest(req)
      path = request.path
      this.#deps.requests.push({
        method: request.method,
        path: request.path,
        url: request.url,
        headers: request.headers,
        body: request.body ?? (request.rawBody || undefined),
        time: new Date()
      })
      const failure = this.#deps.faults.take(request.method, request.url)
      if (failure?.delayMs) await this.#delay(failure.delayMs)
      if (this.#closing || failure?.reset) {
        this.#deps.log(`${request.method} ${request.path} → connection reset (${this.#closing ? 'closing' : 'injected'})`)
        req.socket.destroy()
        return
      }
      response = failure?.status !== undefined ? injected(failure, failure.status) : await this.#answer(request)
    } catch (error) {
      response = errorResponse(error)
    }
    this.#deps.log(`${req.method} ${path} → ${response.status} (${Date.now() - started} ms)`)
    send(res, response)
  }

  /** Waits, unless the emulator closes first. */
  #delay (ms: number): Promise<void> {
    return new Promise(resolve => {
      const entry = { timer: setTimeout(() => { this.#delays.delete(entry); resolve() }, ms), resolve }
      this.#delays.add(entry)
    })
  }

  async #answer (request: EmulatorRequest): Promise<EmulatorResponse> {
    if (isMetadataPath(request.path)) return metadataResponse(request, this.#deps.metadata)
    if (request.path.startsWith(RUN_PREFIX)) {
      this.#deps.tokens.check(request.headers.authorization)
      return await this.#deps.runApi.handle(request)
    }
    if (request.path === ENTRIES_LIST_PATH && request.method === 'POST') {
      this.#deps.tokens.check(request.headers.authorization)
      return this.#listEntries(request)
    }
    return notFound(request)
  }

  #listEntries (request: EmulatorRequest): EmulatorResponse {
    const { projects, permissions, logs } = this.#deps
    const list = parseEntriesListRequest(jsonBody(request), idOrNumber => projects.idOf(idOrNumber))
    for (const project of list.projects) permissions.check('logging.logEntries.list', `projects/${project}`)
    return json(logs.list(list))
  }

  /** Stops answering: requests held by injected delays end without an answer. */
  close (): void {
    this.#closing = true
    for (const entry of this.#delays) {
      clearTimeout(entry.timer)
      entry.resolve()
    }
    this.#delays.clear()
  }
}

function injected (failure: InjectedFailure, status: number): EmulatorResponse {
  const headers = failure.headers ?? {}
  if (failure.body !== undefined) return typeof failure.body === 'string' ? { status, text: failure.body, headers } : { status, json: failure.body, headers }
  const message = status === 503 ? 'The service is currently unavailable.' : `Injected failure (HTTP ${status}).`
  return { status, json: errorBody(status, statusOfHttpCode(status), message), headers }
}
