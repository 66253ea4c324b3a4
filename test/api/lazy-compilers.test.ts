import t from 'tap'
import { Type } from 'typebox'
import { lazily, lazySerializers } from '../../api/plugins/lazy-compilers.js'
import { strictValidatorCompiler } from '../../api/plugins/strict-input/strict-query.js'
import { build } from '../helper.js'

t.test('lazily: made at the first call, once', async t => {
  let made = 0
  const double = lazily(() => { made++; return (n: number) => n * 2 })
  t.equal(made, 0, 'nothing made before a call')
  t.equal(double(2), 4)
  t.equal(double(5), 10)
  t.equal(made, 1)
})

// Schemas that cannot compile show when compiling happens: they throw at the first use, not when the route is set up.
const BROKEN = { type: 'object', properties: { a: { $ref: '#/definitions/missing' } } }
const BAD_PATTERN = { type: 'string', pattern: '(' }

t.test('response serializers compile at their first response', async t => {
  const serialize = lazySerializers({}, {})({ schema: BROKEN, method: 'GET', url: '/x', httpStatus: '200' })
  t.throws(() => serialize({ a: 1 }), 'compiled (and failed) only when used')
  const ok = lazySerializers({}, {})({ schema: { type: 'object', properties: { a: { type: 'integer' } } }, method: 'GET', url: '/x', httpStatus: '200' })
  t.equal(ok({ a: 1, b: 2 }), '{"a":1}', 'fast-json-stringify as before: only the schema\'s fields')
})

t.test('validators compile at their first request', async t => {
  const validate = strictValidatorCompiler({ schema: BAD_PATTERN as never, method: 'POST', url: '/x', httpPart: 'body' })
  t.throws(() => validate('x'), /regular expression/, 'compiled (and failed) only when used')
})

t.test('the app starts without compiling any route schema, and validates and serializes as before', async t => {
  const { app } = await build(t)
  const refused = await app.inject({ method: 'POST', url: '/v1/jobs/echo/runs', payload: { taskCount: 'many' } })
  t.equal(refused.statusCode, 400, 'the body schema applies at the first request')
  const listed = await app.inject('/v1/jobs')
  t.equal(listed.statusCode, 200)
  t.ok(Array.isArray(listed.json<{ jobs: unknown[] }>().jobs), 'the response serializer applies too')
})

t.test('path parameters: a schema of strings is checked without conversion, any other is converted as before', async t => {
  const strings = strictValidatorCompiler({ schema: Type.Object({ job: Type.String({ pattern: '^[a-z]+$' }) }), method: 'GET', url: '/x/:job', httpPart: 'params' })
  const params = { job: 'echo' }
  t.equal((strings(params) as { value: unknown }).value, params, 'the very same object')
  const plain = strictValidatorCompiler({ schema: Type.Object({ job: Type.String() }), method: 'GET', url: '/x/:job', httpPart: 'params' })
  t.ok('error' in (plain({ job: 5 }) as object), 'not converted: TypeBox\'s conversion would have made 5 the string "5"')
  const refused = strings({ job: 'Bad_Name' }) as { error: Array<{ instancePath: string }> }
  t.equal(refused.error[0]?.instancePath, '/job', 'a bad one refused with TypeBox\'s errors, as fastify expects')
  const numbers = strictValidatorCompiler({ schema: Type.Object({ page: Type.Integer() }), method: 'GET', url: '/x/:page', httpPart: 'params' })
  t.strictSame((numbers({ page: '5' }) as { value: unknown }).value, { page: 5 }, 'an integer parameter is still converted')
})
