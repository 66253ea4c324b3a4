/**
 * What never changes again (a finished run, a finished run's whole log), kept in memory and
 * bounded twice: by how many items and by their total size in bytes. The least recently used
 * item goes first; an item larger than the whole byte bound is not kept at all.
 */
export class FinishedCache<V> {
  readonly maxItems: number
  readonly maxBytes: number
  readonly #sizeOf: (value: V) => number
  readonly #items = new Map<string, { value: V, bytes: number }>()
  #bytes = 0

  constructor (options: { maxItems: number, maxBytes: number, sizeOf: (value: V) => number }) {
    this.maxItems = options.maxItems
    this.maxBytes = options.maxBytes
    this.#sizeOf = options.sizeOf
  }

  get size (): number { return this.#items.size }
  get bytes (): number { return this.#bytes }

  get (key: string): V | undefined {
    const item = this.#items.get(key)
    if (item === undefined) return undefined
    // Re-inserting moves it to the most recently used end of the Map's order.
    this.#items.delete(key)
    this.#items.set(key, item)
    return item.value
  }

  set (key: string, value: V): void {
    this.delete(key)
    const bytes = this.#sizeOf(value)
    if (bytes > this.maxBytes) return
    this.#items.set(key, { value, bytes })
    this.#bytes += bytes
    for (const [oldest, item] of this.#items) {
      if (this.#items.size <= this.maxItems && this.#bytes <= this.maxBytes) break
      this.#items.delete(oldest)
      this.#bytes -= item.bytes
    }
  }

  delete (key: string): void {
    const item = this.#items.get(key)
    if (item === undefined) return
    this.#items.delete(key)
    this.#bytes -= item.bytes
  }
}

/** The size of a JSON-shaped value as it is held: its serialized length is close enough, and cheap to state. */
export const jsonBytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value))
