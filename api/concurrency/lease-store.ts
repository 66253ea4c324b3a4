/**
 * Leases close the gap between "how many runs are running?" and "start one". A scope (a job, or a job
 * and a tenant) has `maxRunning` slots; a start must put its lease into a free slot with an atomic
 * create-if-absent before it calls Cloud Run, and the lease stays until its run ends. Two starts can
 * never hold one slot, so jobgate never has more than `maxRunning` runs of a scope in flight, whichever
 * instance started them. (One document per slot, not a transaction over one document per scope:
 * 50 concurrent transactions on one document took 154 s on the Firestore emulator, aborting and retrying.)
 */

/** One start's claim on a slot, from before its start until its run ends. */
export interface Lease {
  /** Random id of the start that took it. */
  id: string
  /** The execution's name once the start has returned; until then the lease stands for a start in flight. */
  run?: string
  /** Epoch ms the lease was taken. */
  takenAt: number
  /** Epoch ms after which the lease no longer counts (a crashed instance cannot block the scope for ever). */
  expiresAt: number
}

/** A slot that holds a lease, and the version read (eviction succeeds only on that exact version). */
export interface HeldSlot {
  slot: number
  lease: Lease
  version: string
}

export interface LeaseStore {
  /** The leases in slots `0 … slots - 1` of `scope` (empty slots are left out). */
  read: (scope: string, slots: number) => Promise<HeldSlot[]>
  /** Puts `lease` into an empty slot, atomically; false when the slot is held (by anyone, on any instance). */
  claim: (scope: string, slot: number, lease: Lease) => Promise<boolean>
  /** Empties a slot still holding exactly `version` (a lease found ended or expired); false when it changed meanwhile. */
  evict: (scope: string, slot: number, version: string) => Promise<boolean>
  /** Records the started run and the lease's new expiry; false when the slot no longer holds lease `id`. */
  attach: (scope: string, slot: number, id: string, run: string, expiresAt: number) => Promise<boolean>
  /** Empties a slot if it holds lease `id` (the start failed, provably without starting a run). */
  release: (scope: string, slot: number, id: string) => Promise<void>
  close?: () => Promise<void>
}
