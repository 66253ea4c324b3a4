import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'
import t from 'tap'

const root = join(import.meta.dirname, '..', '..')
/** The Google layer: it throws its own UpstreamError; only the API's edge turns failures into ApiError. */
const GOOGLE_LAYER = ['api/google', 'api/cloudrun', 'api/logging']
/** What the Google layer may import besides itself: the catalog's and schemas' types, and shared helpers. */
const ALLOWED = [...GOOGLE_LAYER, 'api/catalog.ts', 'api/schemas', 'common']

/** Every relative import (type imports too) of a source file, as a path from the repository root. */
function importsOf (file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8')
  return [...text.matchAll(/(?:from|import\()\s*'(\.{1,2}\/[^']+)'/g)]
    .map(match => normalize(join(dirname(file), (match[1] ?? '').replace(/\.js$/, '.ts'))))
}

const sources = GOOGLE_LAYER.flatMap(dir => readdirSync(join(root, dir)).filter(name => name.endsWith('.ts')).map(name => `${dir}/${name}`))

t.test('the Google layer never imports the API\'s errors, plugins or routes', async t => {
  t.ok(sources.length >= 10, `found the layer's modules (${sources.length})`)
  const outside = sources.flatMap(file => importsOf(file)
    .filter(target => !ALLOWED.some(allowed => target === allowed || target.startsWith(`${allowed}/`)))
    .map(target => `${file} → ${relative('.', target)}`))
  t.same(outside, [], 'imports only itself, the catalog, the schemas and common/')
  t.notOk(sources.some(file => importsOf(file).includes('api/errors.ts')), 'no ApiError below the edge')
})
