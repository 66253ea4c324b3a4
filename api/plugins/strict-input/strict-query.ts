import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify'
import type { FastifyValidationResult } from 'fastify/types/schema.js'
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox'
import type { TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import { lazily } from '../lazy-compilers.js'

/** A whole number as a person writes it: digits only, no sign, fraction, exponent, hex or word. */
const WHOLE_NUMBER = /^(0|[1-9][0-9]{0,14})$/

/** An object schema's properties, none for any other schema. */
const propertiesOf = (schema: TSchema): Record<string, { type?: unknown }> | undefined =>
  (schema as { properties?: Record<string, { type?: unknown }> }).properties

/** The names of a query schema's integer properties. */
function integerFields (schema: TSchema): string[] {
  return Object.entries(propertiesOf(schema) ?? {}).filter(([, property]) => property.type === 'integer').map(([name]) => name)
}

/** Whether every property of a schema is a string, as every path parameter of jobgate's routes is. */
function onlyStrings (schema: TSchema): boolean {
  const properties = propertiesOf(schema)
  return properties !== undefined && Object.values(properties).every(property => property.type === 'string')
}

/**
 * Path parameters are strings, so for a schema of strings TypeBox's conversion changes nothing: checked
 * without it, as TypeBox's compiler checks a body (its conversion was 2 % of a run request's CPU).
 */
function stringParamsValidator (schema: TSchema): FastifyValidationResult {
  const check = Compile(schema)
  return value => check.Check(value) ? { value } : { error: check.Errors(value) }
}

/**
 * TypeBox's validator compiler, with integer query parameters checked before its conversion,
 * which is lax ("1.5" → 1, "" → 0, "true" → 1, "0x10" → 16): a strict schema means what it says.
 * Each validator is compiled at its first request, not at start.
 */
export const strictValidatorCompiler: FastifySchemaCompiler<TSchema> = route => {
  if (route.httpPart === 'params' && onlyStrings(route.schema)) return lazily(() => stringParamsValidator(route.schema))
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
