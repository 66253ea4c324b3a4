import SerializerSelector from '@fastify/fast-json-stringify-compiler'
import type { FastifyServerOptions } from 'fastify'

/** A function made on its first call: Fastify compiles every route's schemas at ready, which a cold start pays for routes never called. */
export function lazily<A extends unknown[], R> (make: () => (...args: A) => R): (...args: A) => R {
  let made: ((...args: A) => R) | undefined
  return (...args) => (made ??= make())(...args)
}

type BuildSerializer = NonNullable<NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildSerializer']>

/** Fastify's own response serializers (fast-json-stringify), each compiled at its first response instead of at ready. */
export const lazySerializers: BuildSerializer = (externalSchemas, options) => {
  const compile = SerializerSelector()(externalSchemas, options)
  return route => lazily(() => compile(route))
}
