import type { JobEntry } from '../catalog.js'

/** The key of one execution's loops and caches. */
export const watchKey = (entry: JobEntry, name: string): string => `${entry.id}/${name}`

/** A poll loop for one execution (a run watcher, a log tail). */
export interface LiveLoop {
  readonly entry: JobEntry
  readonly name: string
  stop: () => void
}

/** The loops of one kind, at most one per execution; dropping a loop stops it. */
export class LiveLoops<T extends LiveLoop> {
  readonly #loops = new Map<string, T>()

  get size (): number { return this.#loops.size }

  values (): T[] { return [...this.#loops.values()] }

  get (entry: JobEntry, name: string): T | undefined { return this.#loops.get(watchKey(entry, name)) }

  /** The execution's loop, made by `make` when there is none yet (`fresh`: the caller starts it). */
  obtain (entry: JobEntry, name: string, make: () => T): { loop: T, fresh: boolean } {
    const key = watchKey(entry, name)
    const existing = this.#loops.get(key)
    if (existing !== undefined) return { loop: existing, fresh: false }
    const loop = make()
    this.#loops.set(key, loop)
    return { loop, fresh: true }
  }

  /** Stops the loop and forgets it (unless another loop already took its place). */
  drop (loop: T): void {
    loop.stop()
    const key = watchKey(loop.entry, loop.name)
    if (this.#loops.get(key) === loop) this.#loops.delete(key)
  }

  /** Stops every loop (the app is closing). */
  close (): void {
    for (const loop of this.values()) this.drop(loop)
  }
}
