import { createServer } from 'node:http'
import { Pool } from 'undici'
import { listenOnLoopback, type Loopback } from './loopback.js'

const JSON_BODY = { 'content-type': 'application/json' }

/** What a push sender sees of its deliveries: each key's attempts and answers, and when the first and the last 2xx came. */
export class DeliveryLedger {
  readonly attempts = new Map<string, number>()
  readonly acknowledged = new Set<string>()
  readonly statuses: Record<number, number> = {}
  /** ms from sending each delivery to its answer. */
  readonly answerMs: number[] = []
  firstSentAt = 0
  lastAckAt = 0
  /** Most deliveries sent and not yet answered at once: the sender's concurrency. */
  peakInFlight = 0
  #inFlight = 0

  sent (key: string): void {
    if (this.firstSentAt === 0) this.firstSentAt = Date.now()
    this.attempts.set(key, (this.attempts.get(key) ?? 0) + 1)
    this.peakInFlight = Math.max(this.peakInFlight, ++this.#inFlight)
  }

  answered (key: string, status: number, ms: number): void {
    this.#inFlight--
    this.statuses[status] = (this.statuses[status] ?? 0) + 1
    this.answerMs.push(ms)
    if (status < 200 || status >= 300) return
    this.acknowledged.add(key)
    this.lastAckAt = Date.now()
  }

  get deliveries (): number {
    let total = 0
    for (const n of this.attempts.values()) total += n
    return total
  }

  /** Keys sent more than once: a redelivery (one loop turn each). */
  get redelivered (): number {
    return [...this.attempts.values()].filter(n => n > 1).length
  }
}

export interface Delivery { key: string, path: string, body: string }

export interface DeliverOptions {
  /** Requests in flight at once, as a push sender's concurrency. */
  inFlight: number
  ledger: DeliveryLedger
  /** A non-2xx is sent again after this long, as Pub/Sub's retry policy (minimumBackoff) does. */
  retryMs?: number
  /** Attempts per key before the sender gives up (a dead-letter policy's maxDeliveryAttempts). */
  maxAttempts?: number
}

/** Sends each delivery (JSON) from `inFlight` concurrent clients; a non-2xx answer is redelivered, as Pub/Sub would. */
export async function deliver (origin: string, deliveries: readonly Delivery[], options: DeliverOptions): Promise<void> {
  const { inFlight, ledger, retryMs = 1_000, maxAttempts = 5 } = options
  const pool = new Pool(origin, { connections: inFlight, pipelining: 1 })
  const pending = [...deliveries].reverse()
  let retrying = 0
  const client = async (): Promise<void> => {
    for (;;) {
      const next = pending.pop()
      if (next === undefined) {
        if (retrying === 0) return
        await new Promise(resolve => setTimeout(resolve, 50))
        continue
      }
      ledger.sent(next.key)
      const sentAt = performance.now()
      const { statusCode, body } = await pool.request({ method: 'POST', path: next.path, headers: JSON_BODY, body: next.body })
      await body.dump()
      ledger.answered(next.key, statusCode, performance.now() - sentAt)
      if (ledger.acknowledged.has(next.key) || (ledger.attempts.get(next.key) ?? 0) >= maxAttempts) continue
      retrying++
      setTimeout(() => { retrying--; pending.push(next) }, retryMs)
    }
  }
  try {
    await Promise.all(Array.from({ length: inFlight }, client))
  } finally {
    await pool.close()
  }
}

/**
 * A loopback HTTP proxy to `origin` that writes each request into `ledger` under `keyOf(body)` with the answer it got:
 * what a sender we cannot instrument (the Pub/Sub emulator) delivered, and how each delivery was answered.
 */
export async function recordingProxy (origin: string, ledger: DeliveryLedger, keyOf: (body: string) => string): Promise<Loopback> {
  const pool = new Pool(origin, { connections: 16 })
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString()
      const key = keyOf(body)
      ledger.sent(key)
      const sentAt = performance.now()
      pool.request({ method: 'POST', path: request.url ?? '/', headers: JSON_BODY, body }).then(async answer => {
        const text = await answer.body.text()
        ledger.answered(key, answer.statusCode, performance.now() - sentAt)
        response.writeHead(answer.statusCode, { 'content-type': 'application/json' }).end(text)
      }, () => {
        ledger.answered(key, 502, performance.now() - sentAt)
        response.writeHead(502).end()
      })
    })
  })
  server.keepAliveTimeout = 60_000
  const loopback = await listenOnLoopback(server)
  return { ...loopback, close: async () => { await loopback.close(); await pool.close() } }
}
