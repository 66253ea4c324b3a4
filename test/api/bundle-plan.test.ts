// The bundle's stand-ins (scripts/bundle-plan.mjs) behave as the packages they stand for, and load them only at their first real use.
import { createRequire } from 'node:module'
import t from 'tap'

interface LazyRequire { module: string, importer: RegExp, standIn: string }
interface Subset { module: string, importer: RegExp, contents: string }
const plan = await import('../../scripts/bundle-plan.mjs' as string) as { lazyRequires: LazyRequire[], subsets: Subset[] }
// Each package as its importer sees it (fastify's, the rate limiter's…).
const requireFrom = createRequire(new URL('../../node_modules/fastify/fastify.js', import.meta.url))
const requireRateLimit = createRequire(new URL('../../node_modules/@fastify/rate-limit/index.js', import.meta.url))
const requireTypeProvider = createRequire(new URL('../../node_modules/@fastify/type-provider-typebox/package.json', import.meta.url))

/** The stand-in for `module`, run as the bundle runs it, with a require() that counts its loads of the real package. */
function standIn (module: string, real: unknown): { exports: any, loads: () => number } {
  const entry = plan.lazyRequires.find(lazy => lazy.module === module)
  if (entry === undefined) throw new Error(`no stand-in for ${module}`)
  let loads = 0
  const shell = { exports: {} as any }
  // The stand-in is a module's source: run in a CommonJS wrapper, as the bundle runs it.
  new Function('require', 'module', 'exports', entry.standIn.replaceAll('LAZY', '"lazy"'))(() => { loads++; return real }, shell, shell.exports)
  return { exports: shell.exports, loads: () => loads }
}

/** The subset module standing for `module`, run with a require() that records what it loads. */
function subset (module: string, require: (id: string) => unknown): { exports: any, required: string[] } {
  const entry = plan.subsets.find(candidate => candidate.module === module)
  if (entry === undefined) throw new Error(`no subset of ${module}`)
  const required: string[] = []
  const shell = { exports: {} as any }
  new Function('require', 'module', 'exports', entry.contents)((id: string) => { required.push(id); return require(id) }, shell, shell.exports)
  return { exports: shell.exports, required }
}

t.test('semver for fastify: the three functions fastify calls, semver\'s own', async t => {
  const { exports, required } = subset('semver', requireFrom)
  const semver = requireFrom('semver')
  t.same(Object.keys(exports).sort(), ['coerce', 'gt', 'satisfies'])
  for (const name of ['coerce', 'gt', 'satisfies']) t.equal(exports[name], semver[name], name)
  t.notOk(required.includes('semver'), 'not semver\'s index')
  t.equal(exports.satisfies('5.12.8', '5.x'), true)
})

t.test('node:https and node:http2 for fastify\'s server.js: required when an HTTPS or HTTP/2 server is created', async t => {
  const https = subset('node:https', requireFrom)
  const http2 = subset('node:http2', requireFrom)
  t.same([...https.required, ...http2.required], [], 'nothing required at start')
  const secure = https.exports.createServer({}, () => {})
  t.ok(secure instanceof requireFrom('node:https').Server)
  const h2 = http2.exports.createServer({}, () => {})
  t.equal(h2.constructor.name, 'Http2Server')
  t.ok(typeof http2.exports.createSecureServer === 'function')
  t.same([...https.required, ...http2.required], ['node:https', 'node:http2'])
})

t.test('the packages the bundle loads lazily, each checked below', async t => {
  t.same(plan.lazyRequires.map(lazy => lazy.module).sort(), ['@fastify/ajv-compiler', '@fastify/fast-json-stringify-compiler', 'ajv-formats', 'ip-address', 'light-my-request'])
})

t.test('the validator compiler: loaded at the first route compiled, then pooled per selector as the package does', async t => {
  const { exports: ValidatorSelector, loads } = standIn('@fastify/ajv-compiler', requireFrom('@fastify/ajv-compiler'))
  const buildValidator = ValidatorSelector()
  const compile = buildValidator({}, { customOptions: {} })
  t.equal(loads(), 0, 'fastify builds its compilers at start: nothing loaded')
  const validate = compile({ schema: { type: 'integer' }, method: 'GET', url: '/', httpPart: 'body' })
  t.equal(loads(), 1)
  t.equal(validate(1), true)
  t.equal(validate('x'), false)
  buildValidator({}, { customOptions: {} })({ schema: { type: 'string' }, method: 'GET', url: '/b', httpPart: 'body' })
  t.equal(loads(), 1, 'one selector, loaded once')
})

t.test('the response serializer compiler: loaded at the first response schema compiled', async t => {
  const { exports: SerializerSelector, loads } = standIn('@fastify/fast-json-stringify-compiler', requireFrom('@fastify/fast-json-stringify-compiler'))
  const compile = SerializerSelector()({}, {})
  t.equal(loads(), 0)
  const serialize = compile({ schema: { type: 'object', properties: { a: { type: 'integer' } } }, method: 'GET', url: '/', httpStatus: '200' })
  t.equal(serialize({ a: 1, b: 2 }), '{"a":1}', 'fast-json-stringify: only the schema\'s fields')
  t.equal(loads(), 1)
})

t.test('ajv-formats: loaded at the first format asked for', async t => {
  const real = requireTypeProvider('ajv-formats')
  const { exports: formats, loads } = standIn('ajv-formats', real)
  t.equal(loads(), 0)
  t.equal(formats.get('email'), real.get('email'))
  t.equal(loads(), 1)
})

t.test('ip-address: Address6 built by the real class at the first `new`', async t => {
  const real = requireRateLimit('ip-address')
  const { exports: { Address6 }, loads } = standIn('ip-address', real)
  t.equal(loads(), 0)
  const subnet = new Address6('2001:db8:1:2:3:4:5:6/56')
  t.ok(subnet instanceof real.Address6)
  t.equal(subnet.startAddress().correctForm(), new real.Address6('2001:db8:1:2:3:4:5:6/56').startAddress().correctForm())
  t.equal(loads(), 1)
})

t.test('light-my-request: the stand-in is the package, loaded when fastify\'s inject() first requires it', async t => {
  const real = requireFrom('light-my-request')
  const { exports, loads } = standIn('light-my-request', real)
  t.equal(exports, real)
  t.equal(loads(), 1)
})
