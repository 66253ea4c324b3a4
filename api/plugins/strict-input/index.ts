import fp from 'fastify-plugin'
import { acceptOnlyStrictJson } from './json-body.js'
import { strictValidatorCompiler } from './strict-query.js'

export { clientErrorHandler } from './client-error.js'

/**
 * Input is taken literally: JSON bodies only (a text/plain body must not slip past the schema as a
 * string), parsed strictly, and integer query parameters written as whole numbers.
 * The HTTP parser's refusals are `clientErrorHandler`, a server option.
 */
export const strictInputPlugin = fp(async app => {
  app.setValidatorCompiler(strictValidatorCompiler)
  acceptOnlyStrictJson(app)
}, { name: 'jobgate-strict-input', fastify: '5.x' })
