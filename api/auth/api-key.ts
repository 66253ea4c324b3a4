import { createHash, timingSafeEqual } from 'node:crypto'
import type { ApiKeyEntry } from './types.js'

/** The lower-case hex SHA-256 of an API key: the only form in which a key is configured. */
export function hashApiKey (key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex')
}

/** Finds the entry of a presented key; compares against every entry in constant time per entry. */
export function createApiKeyLookup (entries: readonly ApiKeyEntry[]): (key: string) => ApiKeyEntry | undefined {
  const digests = entries.map(entry => Buffer.from(entry.sha256, 'hex'))
  return key => {
    const presented = createHash('sha256').update(key, 'utf8').digest()
    let found: number | undefined
    // No early exit: the time taken never tells which entry (or whether any) matched.
    for (const [index, digest] of digests.entries()) {
      const equal = timingSafeEqual(presented, digest)
      found = equal && found === undefined ? index : found
    }
    return found === undefined ? undefined : entries[found]
  }
}
