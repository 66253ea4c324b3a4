import { createServer, type ServerResponse } from 'node:http'
import { listenOnLoopback } from './loopback.js'

/** A minimal node:http Cloud Run Admin API and metadata server, so the upstream costs almost nothing. */
export interface Upstream {
  url: string
  host: string
  /** Most sockets open at once since the last reset. */
  peakSockets: () => number
  resetPeak: () => void
  /** Answer `:run` only after this many ms (builds concurrency at the pool). */
  setDelay: (ms: number) => void
  close: () => Promise<void>
}

const TOKEN = JSON.stringify({ access_token: 'ya29.bench-token', expires_in: 3599, token_type: 'Bearer' })

function send (response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'metadata-flavor': 'Google' })
  response.end(text)
}

function execution (job: string, name: string, done: boolean): string {
  return JSON.stringify({
    metadata: { name, namespace: 'bench', creationTimestamp: new Date().toISOString(), labels: { 'run.googleapis.com/job': job } },
    spec: { taskCount: 1 },
    status: done ? { conditions: [{ type: 'Completed', status: 'True' }], succeededCount: 1 } : { conditions: [{ type: 'Completed', status: 'Unknown' }], runningCount: 1 }
  })
}

export async function startUpstream (): Promise<Upstream> {
  let open = 0
  let peak = 0
  let delayMs = 0
  let counter = 0
  const started = new Map<string, number>()
  /** Names in start order: `executions.list` answers newest first, in pages, as Cloud Run does. */
  const order: string[] = []
  const server = createServer((request, response) => {
    request.resume()
    request.on('end', () => {
      const path = (request.url ?? '').split('?')[0] ?? ''
      if (path.endsWith('/service-accounts/default/token')) { send(response, 200, TOKEN); return }
      if (path === '/computeMetadata/v1/instance') { send(response, 200, '{}'); return }
      const run = /\/jobs\/([a-z][-a-z0-9]*):run$/.exec(path)
      if (request.method === 'POST' && run?.[1] !== undefined) {
        const name = `${run[1]}-${(counter++).toString(36).padStart(5, '0')}`
        started.set(name, Date.now())
        order.push(name)
        const answer = (): void => { send(response, 200, execution(run[1] ?? '', name, false)) }
        if (delayMs > 0) setTimeout(answer, delayMs)
        else answer()
        return
      }
      if (request.method === 'GET' && path.endsWith('/executions')) {
        const query = new URL(request.url ?? '', 'http://upstream').searchParams
        const from = Number(query.get('continue') ?? '0')
        const limit = Number(query.get('limit') ?? '100')
        const names = order.slice(Math.max(0, order.length - from - limit), order.length - from).reverse()
        const items = names.map(name => execution(name.replace(/-[0-9a-z]{5}$/, ''), name, Date.now() - (started.get(name) ?? 0) > 300))
        const more = from + limit < order.length ? `,"metadata":{"continue":"${from + limit}"}` : ''
        send(response, 200, `{"items":[${items.join(',')}]${more}}`)
        return
      }
      const get = /\/executions\/([-a-z0-9]+)$/.exec(path)
      const at = get?.[1] === undefined ? undefined : started.get(get[1])
      if (at !== undefined && get?.[1] !== undefined) { send(response, 200, execution(get[1].replace(/-[0-9a-z]{5}$/, ''), get[1], Date.now() - at > 300)); return }
      send(response, 404, '{"error":{"code":404,"status":"NOT_FOUND","message":"not served by the bench stand-in"}}')
    })
  })
  server.on('connection', socket => {
    open++
    peak = Math.max(peak, open)
    socket.on('close', () => { open-- })
  })
  server.keepAliveTimeout = 60_000
  return {
    ...await listenOnLoopback(server),
    peakSockets: () => peak,
    resetPeak: () => { peak = open },
    setDelay: ms => { delayMs = ms }
  }
}
