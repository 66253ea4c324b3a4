import { createHash } from 'node:crypto'

/** JSON with object keys sorted at every depth, so `{a,b}` and `{b,a}` serialize alike; absent body = null. */
export function canonicalJson (value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => isPlainObject(item) ? sortedCopy(item) : item) ?? 'null'
}

/** SHA-256 (hex) of the canonical JSON of a request body: equal for bodies that mean the same. */
export function fingerprint (body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('hex')
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function sortedCopy (object: Record<string, unknown>): Record<string, unknown> {
  const sorted: Record<string, unknown> = {}
  for (const key of Object.keys(object).sort()) sorted[key] = object[key]
  return sorted
}
