import type { FastifySchemaCompiler } from 'fastify'
import type { TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import { ApiError, invalidArgument } from '../errors.js'
import { describeValidation } from '../plugins/errors.js'
import { strictValidatorCompiler } from '../plugins/strict-input/strict-query.js'
import { RunRequest } from '../schemas/run.js'

const compileRunRequest = () => Compile(RunRequest)
let compiled: ReturnType<typeof compileRunRequest> | undefined

/** Compiled at the first run request, not at start: a cold start pays only for what it serves. */
const runRequestCheck = (): ReturnType<typeof compileRunRequest> => (compiled ??= compileRunRequest())

/**
 * Why `value` is not a run request, in the words every trigger answers with (`env.A: contains a NUL
 * character`); undefined when it is one. The job's own rules come after, in api/policy/run-policy.ts.
 */
export function runRequestProblem (value: unknown): string | undefined {
  const check = runRequestCheck()
  if (check.Check(value)) return undefined
  return describeValidation(check.Errors(value), 'body')
}

/** Fastify's validator for a run request body: the problem as the 400 that the Pub/Sub route answers too. */
function validateRunRequestBody (value: unknown): { value: unknown } | { error: ApiError } {
  const problem = runRequestProblem(value)
  return problem === undefined ? { value } : { error: invalidArgument(problem) }
}

/** Validator compiler of the routes whose body is a run request (REST, Cloud Tasks): the body gets the one check. */
export const runRequestRoute: FastifySchemaCompiler<TSchema> = route =>
  route.httpPart === 'body' ? validateRunRequestBody : strictValidatorCompiler(route)
