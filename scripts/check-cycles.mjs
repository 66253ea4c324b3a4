// Fails when modules import each other in a circle: relative imports of the .ts sources that stay in the
// compiled JavaScript (`import type` and `export type` are erased, so they cannot make a load-order cycle).
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'

const ROOTS = ['api', 'cli', 'action', 'common', 'emulator', 'job', 'bench']
const root = new URL('..', import.meta.url).pathname
const sources = ROOTS.flatMap(dir => readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
  .filter(name => name.endsWith('.ts') && !name.endsWith('.d.ts')).map(name => normalize(join(dir, name))))
const known = new Set(sources)

/** `from './x.js'` and `import('./x.js')` specifiers, resolved to the .ts source they compile from. */
function importsOf (file) {
  const text = readFileSync(join(root, file), 'utf8')
  const runtime = text.replace(/^(?:import|export) type [^;]*?from\s*'[^']+'/gms, '')
  const specifiers = [...runtime.matchAll(/(?:from|import\()\s*'(\.{1,2}\/[^']+)'/g)].map(match => match[1])
  return specifiers.map(specifier => normalize(join(dirname(file), specifier.replace(/\.js$/, '.ts')))).filter(target => known.has(target))
}

const graph = new Map(sources.map(file => [file, importsOf(file)]))
const state = new Map()
const cycles = []
function visit (file, path) {
  state.set(file, 'open')
  for (const next of graph.get(file) ?? []) {
    if (state.get(next) === 'open') cycles.push([...path.slice(path.indexOf(next)), next])
    else if (!state.has(next)) visit(next, [...path, next])
  }
  state.set(file, 'done')
}
for (const file of sources) if (!state.has(file)) visit(file, [file])

if (cycles.length > 0) {
  for (const cycle of cycles) process.stderr.write(`import cycle: ${cycle.map(file => relative('.', file)).join(' → ')}\n`)
  process.exit(1)
}
process.stdout.write(`no import cycle among ${sources.length} modules\n`)
