import { createHash } from 'node:crypto'

/** The `Idempotency-Key` header as clients send it: 1 to 255 printable ASCII characters. */
const validKey = /^[\x20-\x7e]{1,255}$/

/** Why a raw `Idempotency-Key` value is unacceptable (the caller answers 400), or undefined when it is fine. */
export function idempotencyKeyProblem (raw: unknown): string | undefined {
  if (typeof raw !== 'string') return 'Idempotency-Key: must be given once, as a string'
  if (!validKey.test(raw)) return 'Idempotency-Key: must be 1 to 255 printable ASCII characters'
  return undefined
}

/**
 * The storage key: one namespace per principal and job, so two callers (or two jobs) never share a key.
 * Hashed, so any key text is a safe document id; JSON keeps the three parts unambiguous.
 */
export function scopedKey (principal: string, job: string, key: string): string {
  return createHash('sha256').update(JSON.stringify([principal, job, key])).digest('hex')
}
