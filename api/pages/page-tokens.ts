import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { invalidArgument } from '../errors.js'
import type { IdempotencyStore } from '../idempotency/index.js'
import { scopedKey } from '../idempotency/key.js'

/** A sealing key lives one day; tokens sealed with the day before's (or, for a clock ahead, the next's) still open. */
const DAY_MS = 86_400_000
const KEY_TTL_MS = 3 * DAY_MS
const VERSION = 1
const IV_BYTES = 12
const TAG_BYTES = 16
/** version, day, IV, tag: what precedes the ciphertext. */
const HEADER_BYTES = 1 + 4 + IV_BYTES + TAG_BYTES

const refused = (): Error => invalidArgument('pageToken: not a token jobgate handed out for this list, or older than a day; list again from the first page')

/**
 * Page tokens jobgate hands out: the position in an upstream list, sealed with AES-256-GCM and bound
 * to who asked for which list, so a token never shows (or lets anyone choose) an upstream name.
 *
 * The key of each day is a random 256-bit value created with the idempotency store's atomic
 * create-if-absent: with JOBGATE_IDEMPOTENCY=firestore every instance gets the same key (the first
 * to ask creates it), so a token from one instance opens on another; with the memory store each
 * instance has its own (one instance is what that store is for). No setting to manage, nothing to rotate.
 */
export class PageTokens {
  readonly #store: Pick<IdempotencyStore, 'claim'>
  readonly #now: () => number
  readonly #keys = new Map<number, Promise<Buffer>>()

  constructor (store: Pick<IdempotencyStore, 'claim'>, now: () => number = Date.now) {
    this.#store = store
    this.#now = now
  }

  /** Seals `position` for the list `binding` names (caller and job). */
  async seal (binding: string, position: unknown): Promise<string> {
    const day = Math.floor(this.#now() / DAY_MS)
    const iv = randomBytes(IV_BYTES)
    const cipher = createCipheriv('aes-256-gcm', await this.#keyOf(day), iv)
    cipher.setAAD(Buffer.from(binding))
    const sealed = Buffer.concat([cipher.update(JSON.stringify(position)), cipher.final()])
    const header = Buffer.alloc(5)
    header.writeUInt8(VERSION, 0)
    header.writeUInt32BE(day, 1)
    return Buffer.concat([header, iv, cipher.getAuthTag(), sealed]).toString('base64url')
  }

  /** The position sealed in `token` for the same `binding`; a 400 for anything else. */
  async open (binding: string, token: string): Promise<unknown> {
    const bytes = Buffer.from(token, 'base64url')
    if (bytes.length <= HEADER_BYTES || bytes.readUInt8(0) !== VERSION || bytes.toString('base64url') !== token) throw refused()
    const day = bytes.readUInt32BE(1)
    if (Math.abs(day - Math.floor(this.#now() / DAY_MS)) > 1) throw refused()
    const decipher = createDecipheriv('aes-256-gcm', await this.#keyOf(day), bytes.subarray(5, 5 + IV_BYTES))
    decipher.setAAD(Buffer.from(binding))
    decipher.setAuthTag(bytes.subarray(5 + IV_BYTES, HEADER_BYTES))
    try {
      return JSON.parse(Buffer.concat([decipher.update(bytes.subarray(HEADER_BYTES)), decipher.final()]).toString('utf8'))
    } catch {
      throw refused()
    }
  }

  #keyOf (day: number): Promise<Buffer> {
    let key = this.#keys.get(day)
    if (key === undefined) {
      key = this.#fetchKey(day)
      key.catch(() => { this.#keys.delete(day) })
      this.#keys.set(day, key)
      // Only the days a token can name are kept.
      for (const known of this.#keys.keys()) if (known < day - 1) this.#keys.delete(known)
    }
    return key
  }

  async #fetchKey (day: number): Promise<Buffer> {
    const mine = randomBytes(32).toString('hex')
    const claim = await this.#store.claim(scopedKey('jobgate', 'page-tokens', String(day)), mine, KEY_TTL_MS)
    return Buffer.from(claim.claimed ? mine : claim.record.fingerprint, 'hex')
  }
}
