import { randomInt, randomUUID } from 'node:crypto'
import type { HeldSlot, Lease, LeaseStore } from './lease-store.js'
import type { ConcurrencyRule } from './rule.js'
import type { ScopeView } from './scope-view.js'

/** The slot a start holds while it starts its run. */
export interface Ticket {
  scope: string
  slot: number
  id: string
  takenAt: number
}

export type Admission =
  | { admitted: true, ticket: Ticket, replaced: string[] }
  | { admitted: false, running: string[], starting: number }

export interface AdmitOptions {
  /** How long a lease without a run counts: longer than any start takes, short enough that a crash frees it soon. */
  pendingMs: number
  /** Replace: cancels these runs (oldest first) and resolves once Cloud Run accepted each cancel. */
  cancel: (runs: string[]) => Promise<void>
}

/** A lost claim is retried this often (each loss means another start took the slot first). */
const claimAttempts = 5

/**
 * Decides whether a start may go ahead under its scope's rule, from what Cloud Run lists (the view) and
 * the leases of starts in flight or whose runs the view could not show yet; takes a slot when it may.
 */
export class ConcurrencyGate {
  readonly #store: LeaseStore
  readonly #now: () => number

  constructor (store: LeaseStore, now: () => number = Date.now) {
    this.#store = store
    this.#now = now
  }

  async admit (scope: string, rule: ConcurrencyRule, view: ScopeView, options: AdmitOptions): Promise<Admission> {
    let replaced: string[] = []
    for (let attempt = 1; ; attempt++) {
      const live = await this.#liveLeases(scope, rule.maxRunning, view)
      const occupants = occupantsOf(view, live)
      const starting = live.filter(held => held.lease.run === undefined).length
      let holders = live
      if (occupants.length + starting >= rule.maxRunning) {
        // A start in flight cannot be cancelled; a second Replace round would cancel the run that beat us to the slot.
        if (rule.policy !== 'Replace' || starting >= rule.maxRunning || replaced.length > 0) {
          return { admitted: false, running: occupants, starting }
        }
        const victims = occupants.slice(0, occupants.length + starting - rule.maxRunning + 1)
        await options.cancel(victims)
        replaced = victims
        for (const held of live) {
          if (held.lease.run !== undefined && victims.includes(held.lease.run)) await this.#store.evict(scope, held.slot, held.version)
        }
        holders = live.filter(held => held.lease.run === undefined || !victims.includes(held.lease.run))
      }
      const slot = freeSlot(rule.maxRunning, holders)
      const takenAt = this.#now()
      const lease: Lease = { id: randomUUID(), takenAt, expiresAt: takenAt + options.pendingMs }
      if (slot !== undefined && await this.#store.claim(scope, slot, lease)) {
        return { admitted: true, ticket: { scope, slot, id: lease.id, takenAt }, replaced }
      }
      if (attempt >= claimAttempts || replaced.length > 0) return { admitted: false, running: occupants, starting }
    }
  }

  /** The run started: the lease now lasts until the run ends (seen in a later view) or `expiresAt`. */
  async started (ticket: Ticket, run: string, expiresAt: number): Promise<boolean> {
    return await this.#store.attach(ticket.scope, ticket.slot, ticket.id, run, expiresAt)
  }

  /** The start failed in a way that proves no run started: free the slot now. */
  async failed (ticket: Ticket): Promise<void> {
    await this.#store.release(ticket.scope, ticket.slot, ticket.id)
  }

  /** The scope's leases that still count; expired ones and those whose run the view shows ended are evicted. */
  async #liveLeases (scope: string, slots: number, view: ScopeView): Promise<HeldSlot[]> {
    const now = this.#now()
    const running = new Set(view.running.map(run => run.name))
    const live: HeldSlot[] = []
    for (const held of await this.#store.read(scope, slots)) {
      const { run, expiresAt } = held.lease
      const ended = run !== undefined && view.listed.has(run) && !running.has(run)
      if (expiresAt <= now || ended) await this.#store.evict(scope, held.slot, held.version)
      else live.push(held)
    }
    return live
  }
}

/** Runs that occupy the scope, oldest first: those Cloud Run lists as running, then leased runs it did not list yet. */
function occupantsOf (view: ScopeView, live: HeldSlot[]): string[] {
  const names = view.running.map(run => run.name)
  const unseen = live.flatMap(held => held.lease.run !== undefined && !names.includes(held.lease.run) ? [held] : [])
    .sort((a, b) => a.lease.takenAt - b.lease.takenAt)
  return [...names, ...unseen.map(held => held.lease.run as string)]
}

/** A free slot at random: starts racing for a scope (an admission's parallel starts) rarely pick the same one. */
function freeSlot (slots: number, live: HeldSlot[]): number | undefined {
  const taken = new Set(live.map(held => held.slot))
  const free = Array.from({ length: slots }, (_, slot) => slot).filter(slot => !taken.has(slot))
  return free.length === 0 ? undefined : free[randomInt(free.length)]
}
