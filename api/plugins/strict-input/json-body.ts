import type { FastifyInstance, FastifyRequest } from 'fastify'
import { ApiError, invalidArgument } from '../../errors.js'

/**
 * Keys refused at any depth: `__proto__` can replace an object's prototype when code copies
 * properties by assignment, and `constructor` shadows the one every object inherits.
 */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor'])

/** Run requests are two levels deep and Pub/Sub envelopes three; anything far deeper is not ours. */
export const MAX_JSON_DEPTH = 32

// fatal: a malformed byte sequence throws instead of becoming U+FFFD; a leading BOM is dropped.
const utf8 = new TextDecoder('utf-8', { fatal: true })

const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d
const COMMA = 0x2c
const QUOTE = 0x22
const BACKSLASH = 0x5c

/** Index of the quote that closes the string opening at `start` (the text is known to be valid JSON). */
function stringEnd (text: string, start: number): number {
  let from = start + 1
  for (;;) {
    const quote = text.indexOf('"', from)
    let backslashes = 0
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++
    if (backslashes % 2 === 0) return quote
    from = quote + 1
  }
}

/** Objects with this many keys or fewer are checked for duplicates by a scan; larger ones get a Set. */
const SMALL_OBJECT = 16

/** One open object or array. Its path is only built when there is something to report. */
interface Frame {
  parent: Frame | undefined
  /** Where it sits in its parent: the key (objects) or index (arrays). */
  at: string | number
  /** Objects only: the keys seen so far. */
  keys: string[] | undefined
  large: Set<string> | undefined
  /** Arrays: the index of the current element. */
  index: number
  isObject: boolean
}

function pathOf (frame: Frame | undefined, key?: string): string {
  const parts: string[] = key === undefined ? [] : [key]
  for (let f = frame; f?.parent !== undefined; f = f.parent) parts.unshift(typeof f.at === 'number' ? `[${f.at}]` : f.at)
  return parts.reduce((path, part) => path === '' ? part : part.startsWith('[') ? path + part : `${path}.${part}`, '') || 'body'
}

/** Records `key` in an object frame; false when it was there already. */
function addKey (frame: Frame, key: string): boolean {
  if (frame.large !== undefined) {
    if (frame.large.has(key)) return false
    frame.large.add(key)
    return true
  }
  const keys = frame.keys ?? []
  if (keys.includes(key)) return false
  keys.push(key)
  frame.keys = keys
  if (keys.length > SMALL_OBJECT) frame.large = new Set(keys)
  return true
}

/**
 * One pass over text JSON.parse already accepted: rejects duplicate keys (JSON.parse would keep
 * the last silently, so two readers could disagree on what was sent), forbidden keys and deep nesting.
 * Only keys are decoded, and only those with an escape in them.
 */
function checkStructure (text: string): void {
  let frame: Frame | undefined
  let depth = 0
  let expectKey = false
  let lastKey = ''
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      const end = stringEnd(text, i)
      if (expectKey && frame !== undefined) {
        const raw = text.slice(i + 1, end)
        lastKey = raw.includes('\\') ? JSON.parse(text.slice(i, end + 1)) as string : raw
        if (FORBIDDEN_KEYS.has(lastKey)) throw invalidArgument(`${pathOf(frame, lastKey)}: the key "${lastKey}" is not allowed`)
        if (!addKey(frame, lastKey)) throw invalidArgument(`${pathOf(frame, lastKey)}: duplicate key`)
        expectKey = false
      }
      i = end
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > MAX_JSON_DEPTH) throw invalidArgument(`body: nested deeper than ${MAX_JSON_DEPTH} levels`)
      const at = frame === undefined ? '' : frame.isObject ? lastKey : frame.index
      const isObject = c === OPEN_OBJECT
      frame = { parent: frame, at, keys: undefined, large: undefined, index: 0, isObject }
      expectKey = isObject
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      frame = frame?.parent
      depth--
      expectKey = false
    } else if (c === COMMA && frame !== undefined) {
      frame.index++
      expectKey = frame.isObject
    }
  }
}

/** Where JSON.parse stopped, without quoting the input back (it could be anything, e.g. a secret). */
function syntaxError (error: unknown): ApiError {
  const position = /position (\d+)/.exec(error instanceof Error ? error.message : '')?.[1]
  return invalidArgument(position === undefined ? 'body: not valid JSON' : `body: not valid JSON (at character ${position})`)
}

/**
 * Parses a JSON body strictly: UTF-8 only, no duplicate keys at any depth, no `__proto__` or
 * `constructor` keys, at most MAX_JSON_DEPTH levels. Throws ApiError INVALID_ARGUMENT.
 * Also for JSON that arrives inside another body (e.g. base64 Pub/Sub message data).
 */
export function parseStrictJson (bytes: Uint8Array): unknown {
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    throw invalidArgument('body: not valid UTF-8')
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw syntaxError(error)
  }
  checkStructure(text)
  return value
}

/** `charset` parameters, if any, must name UTF-8 (RFC 8259: JSON exchanged between systems is UTF-8). */
function declaresOnlyUtf8 (contentType: string | undefined): boolean {
  for (const parameter of (contentType ?? '').split(';').slice(1)) {
    const [name = '', value = ''] = parameter.split('=', 2)
    if (name.trim().toLowerCase() !== 'charset') continue
    const charset = value.trim().replace(/^"(.*)"$/, '$1').toLowerCase()
    if (charset !== 'utf-8' && charset !== 'utf8') return false
  }
  return true
}

const emptyBody = (): ApiError => invalidArgument('body: empty; send a JSON object (or {})')

function parseBody (request: FastifyRequest, body: Buffer): unknown {
  if (!declaresOnlyUtf8(request.headers['content-type'])) {
    throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'request bodies must be application/json in UTF-8')
  }
  if (body.length === 0) {
    // No route: let the 404 answer, rather than a complaint about a body nobody would read.
    if (request.is404) return undefined
    throw emptyBody()
  }
  return parseStrictJson(body)
}

/**
 * The only body parser: `application/json` (any letter case, optional `charset=utf-8`), strict.
 * Every other media type, and a body without one, is answered 415 by Fastify.
 */
export function acceptOnlyStrictJson (app: FastifyInstance): void {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    try {
      done(null, parseBody(request, body as Buffer))
    } catch (error) {
      done(error as Error, undefined)
    }
  })
}
