// What the server bundle (scripts/bundle-server.mjs) trims from the start: the tables, kept apart from the build so that a test can run the stand-ins.

/** A module exporting the functions `names` of Node's built-in `builtin`, each requiring it at its first call. */
const requiredAtFirstCall = (builtin, names) => names.map(name => `exports.${name} = (...args) => require('${builtin}').${name}(...args)`).join('\n')

/**
 * Modules the start would evaluate whole for a few functions: each is replaced, for its one importer, by a
 * module exporting just what that importer calls (same functions, same package version).
 */
export const subsets = [
  // fastify's plugin-version check calls only satisfies, gt and coerce: semver's index evaluates all ~50 of its modules.
  { module: 'semver', importer: /[\\/]fastify[\\/]lib[\\/]plugin-utils\.js$/, contents: ['satisfies', 'gt', 'coerce'].map(name => `exports.${name} = require('semver/functions/${name}')`).join('\n') },
  // fastify's server.js needs node:https and node:http2 (which load tls) only to create an HTTPS or HTTP/2 server; jobgate's is HTTP/1.
  { module: 'node:https', importer: /[\\/]fastify[\\/]lib[\\/]server\.js$/, contents: requiredAtFirstCall('node:https', ['createServer']) },
  { module: 'node:http2', importer: /[\\/]fastify[\\/]lib[\\/]server\.js$/, contents: requiredAtFirstCall('node:http2', ['createServer', 'createSecureServer']) }
]

/** Stand-ins that require() a lazily loaded file (`LAZY`) at their first real use; require(), as their callers are synchronous. */
export const standIns = {
  // A selector of compilers, used as selector(opts)(schemas, options)(route): loaded at the first route compiled; each level made once, as the package pools them.
  compilerSelector: 'module.exports = (...a) => { let selector; return (...b) => { let compile; return (...c) => (compile ??= (selector ??= require(LAZY)(...a))(...b))(...c) } }',
  // A module whose require() is already deferred by its importer: loading the stand-in loads the file.
  deferred: 'module.exports = require(LAZY)',
  // ajv-formats, read only through its get(name).
  formatsGet: 'exports.get = name => require(LAZY).get(name)',
  // ip-address's Address6, used only with `new`.
  address6: 'exports.Address6 = function Address6 (...args) { return new (require(LAZY).Address6)(...args) }'
}

/**
 * Third-party modules the start compiles or evaluates but a cold start's first requests do not use: each is bundled
 * into a CommonJS file of its own (chunk-lazy-<name>.cjs, beside the entry), which its importer's stand-in requires.
 */
export const lazyRequires = [
  // fastify's default validator compiler (ajv, ajv-formats): jobgate's routes validate with typebox (api/plugins/strict-input).
  { module: '@fastify/ajv-compiler', importer: /[\\/]fastify[\\/]lib[\\/]schema-controller\.js$/, standIn: standIns.compilerSelector },
  // fast-json-stringify (with ajv): a route's response serializer compiles at its first response (api/plugins/lazy-compilers.ts).
  // (fastify's schema-controller requires it too, for a server without jobgate's buildSerializer.)
  { module: '@fastify/fast-json-stringify-compiler', importer: /[\\/](api[\\/]plugins[\\/]lazy-compilers|fastify[\\/]lib[\\/]schema-controller)\.js$/, standIn: standIns.compilerSelector },
  // The TypeBox type provider reads ajv-formats (which loads ajv) only in registerAjvFormats(), which jobgate does not call.
  { module: 'ajv-formats', importer: /[\\/]@fastify[\\/]type-provider-typebox[\\/]/, standIn: standIns.formatsGet },
  // @fastify/rate-limit needs Address6 only for its default key (the client's IP); jobgate's budgets key by caller.
  { module: 'ip-address', importer: /[\\/]@fastify[\\/]rate-limit[\\/]index\.js$/, standIn: standIns.address6 },
  // fastify requires light-my-request only in inject(), yet bundled beside fastify its source was compiled at every start.
  { module: 'light-my-request', importer: /[\\/]fastify[\\/]fastify\.js$/, standIn: standIns.deferred }
]
/** The lazily loaded file of `module`, beside the entry (named chunk-* so that each build removes the last one's). */
export const lazyFile = module => `chunk-lazy-${module.replace(/^@/, '').replaceAll('/', '-')}.cjs`
