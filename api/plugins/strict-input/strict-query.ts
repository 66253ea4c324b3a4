import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify'
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox'
import type { TSchema } from 'typebox'
import { lazily } from '../lazy-compilers.js'

/** A whole number as a person writes it: digits only, no sign, fraction, exponent, hex or word. */
const WHOLE_NUMBER = /^(0|[1-9][0-9]{0,14})$/

/** The names of a query schema's integer properties. */
function integerFields (schema: TSchema): string[] {
  const properties = (schema as { properties?: Record<string, { type?: unknown }> }).properties ?? {}
  return Object.entries(properties).filter(([, property]) => property.type === 'integer').map(([name]) => name)
}

/**
 * TypeBox's validator compiler, with integer query parameters checked before its conversion,
 * which is lax ("1.5" → 1, "" → 0, "true" → 1, "0x10" → 16): a strict schema means what it says.
 * Each validator is compiled at its first request, not at start.
 */
export const strictValidatorCompiler: FastifySchemaCompiler<TSchema> = route => {
  const validate = lazily(() => TypeBoxValidatorCompiler(route))
  const integers = route.httpPart === 'querystring' ? integerFields(route.schema) : []
  if (integers.length === 0) return validate
  return value => {
    const query = value as Record<string, unknown>
    const bad = integers.find(name => typeof query[name] === 'string' && !WHOLE_NUMBER.test(query[name]))
    if (bad === undefined) return validate(value)
    const error: FastifySchemaValidationError = { keyword: 'type', instancePath: `/${bad}`, schemaPath: `#/properties/${bad}`, params: {}, message: 'must be a whole number' }
    return { error: [error] }
  }
}
