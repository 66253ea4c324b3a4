import { Type } from 'typebox'
import { Compile } from 'typebox/compile'
import { ConfigError } from '../config-error.js'
import type { ApiKeyEntry } from './types.js'

const ApiKeyEntrySchema = Type.Object({
  sha256: Type.String({ pattern: '^[0-9a-fA-F]{64}$', description: 'hex SHA-256 of the key' }),
  principal: Type.String({ minLength: 1, maxLength: 256, pattern: '^\\S+$' }),
  tenant: Type.Optional(Type.String({ minLength: 1, maxLength: 256, pattern: '^[^\\x00-\\x1f\\x7f]+$' })),
  tenantFree: Type.Optional(Type.Boolean())
}, { additionalProperties: false })

const ApiKeysSchema = Type.Object({
  keys: Type.Array(ApiKeyEntrySchema, { minItems: 1 })
}, { additionalProperties: false })

const apiKeysValidator = Compile(ApiKeysSchema)

/** Parses and validates the API key table (`{"keys":[…]}`); `variable` is named in every error. */
export function parseApiKeys (text: string, variable: string): ApiKeyEntry[] {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    // The parser's own message quotes the input; say only what is wrong.
    throw new ConfigError(variable, 'is not valid JSON (expected {"keys":[{"sha256":"…","principal":"…"}]})')
  }
  if (!apiKeysValidator.Check(value)) throw new ConfigError(variable, firstSchemaError(value))
  const seen = new Map<string, number>()
  return value.keys.map((key, index) => {
    const sha256 = key.sha256.toLowerCase()
    const earlier = seen.get(sha256)
    if (earlier !== undefined) throw new ConfigError(variable, `keys/${index}/sha256 repeats keys/${earlier}/sha256 (each key must be unique)`)
    seen.set(sha256, index)
    if (key.tenant !== undefined && key.tenantFree === true) {
      throw new ConfigError(variable, `keys/${index}: tenant and tenantFree exclude each other (a bound tenant cannot be chosen freely)`)
    }
    const entry: ApiKeyEntry = { sha256, principal: key.principal }
    if (key.tenant !== undefined) entry.tenant = key.tenant
    if (key.tenantFree !== undefined) entry.tenantFree = key.tenantFree
    return entry
  })
}

/** One line about the most telling schema violation (TypeBox also reports a `schema is false` echo). */
function firstSchemaError (value: unknown): string {
  const errors = apiKeysValidator.Errors(value)
  const error = errors.find(e => e.keyword !== 'boolean') ?? errors[0]
  if (error === undefined) return 'does not match the expected shape'
  const where = error.instancePath === '' ? 'the value' : error.instancePath.slice(1)
  const extra = error.keyword === 'additionalProperties' ? ` (${String((error.params as { additionalProperties?: unknown }).additionalProperties)})` : ''
  return `${where} ${error.message}${extra}`
}
