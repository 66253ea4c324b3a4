// Node module hooks that run the TypeScript sources as they are (tests, `npm run` scripts): each file is transpiled once
// with TypeScript's own transpileModule (isolatedModules, inline source maps for coverage and stacks) and the output is
// cached on disk by content, so the suite's ~130 test processes do not each transpile the same ~200 modules again.
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))
const cacheDir = join(root, 'node_modules', '.cache', 'jobgate-ts')
let typescript
// The output depends on the compiler and on the options below: both are part of every cache key.
const compiler = readFileSync(join(root, 'node_modules', 'typescript', 'package.json'), 'utf8') +
  readFileSync(fileURLToPath(import.meta.url), 'utf8')

/** A `.js` import of a `.ts` source (NodeNext style; relative, or a file URL as tap's mockImport makes) resolves to it. */
const sourceJs = /^(?:\.{1,2}\/|file:).*\.js(?=\?|$)/

export async function resolve (specifier, context, next) {
  try {
    return await next(specifier, context)
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !sourceJs.test(specifier)) throw error
    return await next(specifier.replace(/\.js(?=\?|$)/, '.ts'), context)
  }
}

export async function load (url, context, next) {
  if (!url.startsWith('file:') || !/\.m?ts$/.test(new URL(url).pathname) || url.includes('/node_modules/')) return await next(url, context)
  const path = fileURLToPath(url)
  const text = readFileSync(path, 'utf8')
  const key = createHash('sha256').update(compiler).update('\0').update(path).update('\0').update(text).digest('hex')
  const cached = join(cacheDir, `${key}.js`)
  try {
    return { format: 'module', source: readFileSync(cached, 'utf8'), shortCircuit: true }
  } catch {
    // not transpiled yet
  }
  typescript ??= (await import('typescript')).default
  const { outputText } = typescript.transpileModule(text, {
    fileName: path,
    compilerOptions: {
      target: typescript.ScriptTarget.ES2022,
      module: typescript.ModuleKind.ESNext,
      esModuleInterop: true,
      verbatimModuleSyntax: true,
      isolatedModules: true,
      inlineSourceMap: true,
      inlineSources: true
    }
  })
  mkdirSync(cacheDir, { recursive: true })
  const temporary = `${cached}.${process.pid}.tmp`
  writeFileSync(temporary, outputText)
  renameSync(temporary, cached) // other processes never read half a file
  return { format: 'module', source: outputText, shortCircuit: true }
}
