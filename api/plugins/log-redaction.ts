/** What a credential's value is written as. */
export const CENSOR = '[REDACTED]'

/** Top-level fields whose value is a credential. */
const SECRET_FIELDS = new Set(['token', 'accessToken', 'access_token', 'apiKey'])

/** Header names (any case) whose value is a credential. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'x-api-key', 'cookie', 'proxy-authorization'])

type Fields = Record<string, unknown>

const isObject = (value: unknown): value is Fields => typeof value === 'object' && value !== null

/** A copy of `headers` with each credential censored, or undefined when it holds none (the common case: no copy). */
function censoredHeaders (headers: unknown): Fields | undefined {
  if (!isObject(headers)) return undefined
  let copy: Fields | undefined
  for (const name of Object.keys(headers)) {
    if (CREDENTIAL_HEADERS.has(name.toLowerCase())) (copy ??= { ...headers })[name] = CENSOR
  }
  return copy
}

/** A copy with `key` replaced that keeps the prototype and own non-enumerable fields: an Error stays an Error with its message and stack. */
function withField (value: object, key: string, replacement: unknown): Fields {
  const copy = Object.create(Object.getPrototypeOf(value) as object | null, Object.getOwnPropertyDescriptors(value)) as Fields
  Object.defineProperty(copy, key, { value: replacement, enumerable: true, writable: true, configurable: true })
  return copy
}

/** `value` without credentials in `value.headers` and `value.config.headers` (how HTTP libraries' errors carry their request). */
function withoutCredentialHeaders (value: Fields): Fields {
  const headers = censoredHeaders(value.headers)
  let safe = headers === undefined ? value : withField(value, 'headers', headers)
  const config = value.config
  const configHeaders = isObject(config) ? censoredHeaders(config.headers) : undefined
  if (configHeaders !== undefined) safe = withField(safe, 'config', withField(config as Fields, 'headers', configHeaders))
  return safe
}

/**
 * A log line's fields with every credential censored: the secret fields,
 * credential headers in `headers`, and one level down in `*.headers` and `*.config.headers`. Returns the
 * same object when there is nothing to censor, which is every audit line: pino's path-based redaction
 * cloned and walked each field of every line, a tenth of a run request's CPU. pino passes every line's
 * fields through it (`formatters.log`), not a child logger's bindings: the only bindings jobgate makes
 * are the request id and trace, and a Pub/Sub or Cloud Tasks delivery's names and counts.
 */
export function redactCredentials<T extends Fields> (fields: T): T {
  let copy: Fields | undefined
  for (const key of Object.keys(fields)) {
    const value = fields[key]
    if (value === undefined) continue
    let safe: unknown = value
    if (SECRET_FIELDS.has(key)) safe = CENSOR
    else if (isObject(value)) safe = withoutCredentialHeaders(key === 'headers' ? censoredHeaders(value) ?? value : value)
    if (safe !== value) (copy ??= { ...fields })[key] = safe
  }
  return (copy ?? fields) as T
}
