import type { FastifySchemaCompiler } from 'fastify'
import type { TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import { ApiError, invalidArgument } from '../errors.js'
import { describeValidation } from '../plugins/errors.js'
import { strictValidatorCompiler } from '../plugins/strict-input/strict-query.js'
import { MAX_BATCH_RUNS } from '../schemas/batch.js'
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

/** Fastify's validator for a body: the problem as the 400 that the Pub/Sub route answers too. */
type BodyCheck = (value: unknown) => { value: unknown } | { error: ApiError }
const problemAsError = (problemOf: (value: unknown) => string | undefined): BodyCheck => value => {
  const problem = problemOf(value)
  return problem === undefined ? { value } : { error: invalidArgument(problem) }
}

/** Validator compiler of the routes whose body is a run request (REST, Cloud Tasks): the body gets the one check. */
export const runRequestRoute: FastifySchemaCompiler<TSchema> = route =>
  route.httpPart === 'body' ? problemAsError(runRequestProblem) : strictValidatorCompiler(route)

/** Why `value` is not a batch request (`{"runs": [RunRequest, …]}`): each item is checked as a run request, its index in the message. */
export function batchRequestProblem (value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'body: a batch is an object, {"runs": [run request, …]}'
  const unknown = Object.keys(value).find(name => name !== 'runs')
  if (unknown !== undefined) return `body: unknown field "${unknown.slice(0, 64)}"`
  const runs = (value as { runs?: unknown }).runs
  if (!Array.isArray(runs)) return 'runs: required, an array of run requests'
  if (runs.length === 0 || runs.length > MAX_BATCH_RUNS) return `runs: ${runs.length} items; a batch holds 1 to ${MAX_BATCH_RUNS}`
  for (const [index, item] of runs.entries()) {
    const problem = runRequestProblem(item)
    if (problem !== undefined) return inItem(index, problem)
  }
  return undefined
}

/** A run request's problem as the batch's item `index` has it: `env.A: …` → `runs[3].env.A: …`, `body: …` → `runs[3]: …`. */
export const inItem = (index: number, problem: string): string =>
  problem.startsWith('body:')
    ? `runs[${index}]${problem.slice(4)}`
    : /^[A-Za-z]+[.:[]/.test(problem) ? `runs[${index}].${problem}` : `runs[${index}]: ${problem}`

/** Validator compiler of the batch route: the body gets the batch's check. */
export const batchRequestRoute: FastifySchemaCompiler<TSchema> = route =>
  route.httpPart === 'body' ? problemAsError(batchRequestProblem) : strictValidatorCompiler(route)
