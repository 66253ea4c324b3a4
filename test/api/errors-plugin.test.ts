import type { FastifyError } from 'fastify'
import t from 'tap'
import { ApiError } from '../../api/errors.js'
import { describeValidation, toApiError } from '../../api/plugins/errors.js'

const fastifyError = (fields: Partial<FastifyError> & Record<string, unknown>): FastifyError =>
  Object.assign(new Error(String(fields.message ?? 'x')), { code: 'X', ...fields }) as FastifyError

t.test('describeValidation: names the field the way a caller wrote it', async t => {
  t.equal(describeValidation([{ instancePath: '', params: { additionalProperties: ['colour'] } }], 'body'), 'body: unknown field "colour"')
  t.equal(describeValidation([{ instancePath: '/limits', params: { additionalProperties: ['x'] } }], 'body'), 'limits: unknown field "x"')
  t.equal(describeValidation([{ instancePath: '/env', params: { additionalProperties: ['A-B'] } }], 'body'), 'env.A-B: not a valid variable name')
  t.equal(describeValidation([{ instancePath: '/env', params: { additionalProperties: ['A-B'] } }], 'querystring'), 'env: unknown field "A-B"', 'only a body\'s env names are variable names')
  t.equal(describeValidation([{ instancePath: '/args/2', message: 'must be string' }], 'body'), 'args[2]: must be string')
  t.equal(describeValidation([{ instancePath: '/a~1b/c~0d', message: 'bad' }], 'body'), 'a/b.c~d: bad', 'JSON pointer escapes undone')
  t.equal(describeValidation([{ instancePath: '', message: 'must be object' }], 'body'), 'body: must be object')
  t.equal(describeValidation([{ instancePath: '/x', message: 'schema is false' }, { instancePath: '/y', message: 'must be integer' }], 'body'), 'y: must be integer', 'the useful issue first')
  t.equal(describeValidation([{ instancePath: '/x', message: 'schema is false' }], 'body'), 'x: schema is false', 'or the only one there is')
  t.equal(describeValidation([{ instancePath: '/x' }], 'body'), 'x: invalid')
  t.equal(describeValidation([], 'params'), 'params: invalid')
})

t.test('toApiError: Fastify\'s errors in the contract\'s terms', async t => {
  const own = new ApiError('NOT_FOUND', 'x')
  t.equal(toApiError(own as unknown as FastifyError), own, 'ApiErrors pass through')
  t.match(toApiError(fastifyError({ validation: [{ instancePath: '/wait', message: 'must be <= 60' }] as never, validationContext: 'querystring' as never })), { status: 'INVALID_ARGUMENT', message: 'wait: must be <= 60' })
  t.match(toApiError(fastifyError({ validation: [{ instancePath: '', message: 'must be object' }] as never })), { message: 'body: must be object' }, 'body when the context is unknown')
  t.match(toApiError(fastifyError({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 })), { status: 'PAYLOAD_TOO_LARGE', httpCode: 413 })
  t.match(toApiError(fastifyError({ code: 'FST_ERR_BAD_URL', statusCode: 400 })), { status: 'INVALID_ARGUMENT', httpCode: 400, message: 'path: not a valid URL (malformed percent-encoding)' })
  t.match(toApiError(Object.assign(new SyntaxError('Unexpected token'), { statusCode: 400 }) as unknown as FastifyError), { status: 'INVALID_ARGUMENT', message: 'body: not valid JSON' })
  t.match(toApiError(fastifyError({ code: 'FST_ERR_SOMETHING', statusCode: 400 })), { status: 'INVALID_ARGUMENT', httpCode: 400, message: 'body: not acceptable JSON' })
  t.match(toApiError(fastifyError({ code: 'FST_ERR_MAX_PARAM_LENGTH', statusCode: 414 })), { httpCode: 400, status: 'INVALID_ARGUMENT', message: /longer than any job or run id/ })
  t.match(toApiError(fastifyError({ code: 'FST_ERR_SOMETHING_ELSE', statusCode: 414 })), { httpCode: 414, status: 'INVALID_ARGUMENT', message: 'request rejected' }, 'a 4xx without a canonical status keeps its code')
  t.match(toApiError(fastifyError({ code: 'FST_ERR_X', statusCode: 404 })), { httpCode: 404, status: 'NOT_FOUND' })
  const internal = toApiError(fastifyError({ message: 'db password is hunter2' }))
  t.match(internal, { status: 'INTERNAL', httpCode: 500, message: 'internal error; see the service logs' })
  t.match(toApiError(fastifyError({ statusCode: 503, message: 'x' })), { status: 'INTERNAL', httpCode: 500 }, '5xx from elsewhere are internal errors')
})
