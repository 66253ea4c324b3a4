import type { HeldSlot, Lease, LeaseStore } from './lease-store.js'

/**
 * One process's leases: enough for a single API instance. Each method reads and writes without awaiting
 * in between, so none can interleave with another. Emptied slots are forgotten.
 */
export class MemoryLeaseStore implements LeaseStore {
  readonly #slots = new Map<string, { lease: Lease, version: number }>()
  #version = 0

  get size (): number {
    return this.#slots.size
  }

  async read (scope: string, slots: number): Promise<HeldSlot[]> {
    const held: HeldSlot[] = []
    for (let slot = 0; slot < slots; slot++) {
      const stored = this.#slots.get(slotKey(scope, slot))
      if (stored !== undefined) held.push({ slot, lease: { ...stored.lease }, version: String(stored.version) })
    }
    return held
  }

  async claim (scope: string, slot: number, lease: Lease): Promise<boolean> {
    const key = slotKey(scope, slot)
    if (this.#slots.has(key)) return false
    this.#slots.set(key, { lease: { ...lease }, version: ++this.#version })
    return true
  }

  async evict (scope: string, slot: number, version: string): Promise<boolean> {
    const key = slotKey(scope, slot)
    if (String(this.#slots.get(key)?.version) !== version) return false
    this.#slots.delete(key)
    return true
  }

  async attach (scope: string, slot: number, id: string, run: string, expiresAt: number): Promise<boolean> {
    const stored = this.#slots.get(slotKey(scope, slot))
    if (stored?.lease.id !== id) return false
    stored.lease = { ...stored.lease, run, expiresAt }
    stored.version = ++this.#version
    return true
  }

  async release (scope: string, slot: number, id: string): Promise<void> {
    const key = slotKey(scope, slot)
    if (this.#slots.get(key)?.lease.id === id) this.#slots.delete(key)
  }
}

const slotKey = (scope: string, slot: number): string => JSON.stringify([scope, slot])
