/** The bound on upstream connections: how many per origin, how many may wait, and for how long. */
export interface ConnectionLimits {
  /** Requests in flight per origin, so sockets per origin (JOBGATE_UPSTREAM_CONNECTIONS). */
  connections: number
  /** Requests that may wait for a free connection, per origin; past it a request is refused at once. */
  maxQueued: number
  /** How long a request may wait for a free connection before it gives up, never sent. */
  maxWaitMs: number
}

export const DEFAULT_UPSTREAM_CONNECTIONS = 32

/** Why a request never left: every connection was busy, and the queue was full or the wait too long. */
export class GateRefusal extends Error {
  readonly reason: 'queue-full' | 'wait-timeout'

  constructor (reason: 'queue-full' | 'wait-timeout', message: string) {
    super(message)
    this.name = 'GateRefusal'
    this.reason = reason
  }
}

interface Waiter {
  grant: () => void
  timer: NodeJS.Timeout
}

interface OriginState {
  inFlight: number
  waiting: Waiter[]
}

/**
 * At most `connections` requests in flight per origin, a bounded FIFO queue behind them, and a
 * deadline in that queue: a saturated, hanging upstream can hold neither unbounded memory nor
 * callers past their timeout. The dispatcher's own pool then never has to queue.
 */
export class ConnectionGate {
  readonly limits: ConnectionLimits
  readonly #origins = new Map<string, OriginState>()

  constructor (limits: ConnectionLimits) {
    this.limits = limits
  }

  /** Waits for a free connection to `origin`; the returned function gives it back (call it exactly once). */
  async acquire (origin: string): Promise<() => void> {
    const state = this.#origins.get(origin) ?? { inFlight: 0, waiting: [] }
    this.#origins.set(origin, state)
    const release = (): void => { this.#release(origin, state) }
    if (state.inFlight < this.limits.connections) {
      state.inFlight++
      return release
    }
    const { connections, maxQueued, maxWaitMs } = this.limits
    if (state.waiting.length >= maxQueued) {
      throw new GateRefusal('queue-full', `all ${connections} connections to ${origin} are busy and ${maxQueued} requests already wait`)
    }
    return await new Promise<() => void>((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => { clearTimeout(waiter.timer); resolve(release) },
        timer: setTimeout(() => {
          state.waiting.splice(state.waiting.indexOf(waiter), 1)
          reject(new GateRefusal('wait-timeout', `no connection to ${origin} came free in ${maxWaitMs} ms (all ${connections} busy)`))
        }, maxWaitMs)
      }
      state.waiting.push(waiter)
    })
  }

  #release (origin: string, state: OriginState): void {
    const next = state.waiting.shift()
    // The freed connection passes straight to the next waiter: inFlight stays the same.
    if (next !== undefined) { next.grant(); return }
    state.inFlight--
    if (state.inFlight === 0) this.#origins.delete(origin)
  }
}
