// Bundles the compiled server (dist/api/server.js, or DIR/api/server.js) into one ES module plus lazy chunks, in place.
// Why: typebox alone is ~680 files, and Node 20 spends most of a cold start resolving and
// linking modules one by one; one file starts several times faster. Run after tsc (npm run build).
import { readdirSync, rmSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { lazyFile, lazyRequires, subsets } from './bundle-plan.mjs'

const dist = process.argv[2] === undefined ? fileURLToPath(new URL('../dist/', import.meta.url)) : `${process.argv[2]}/`
const outdir = `${dist}api`

/** `import.meta.url` of a bundled file, still pointing at that file's place in dist/ (the console reads its assets beside it). */
const keepModuleUrls = {
  name: 'keep-module-urls',
  setup (context) {
    context.onLoad({ filter: /\.js$/ }, async args => {
      if (!args.path.startsWith(dist) || args.path.includes('node_modules')) return undefined
      const source = await readFile(args.path, 'utf8')
      if (!source.includes('import.meta.url')) return undefined
      const fromBundle = `./${relative(outdir, args.path).split('\\').join('/')}`
      return { contents: source.replaceAll('import.meta.url', `new URL(${JSON.stringify(fromBundle)}, import.meta.url).href`), loader: 'js' }
    })
  }
}

/** Each module of bundle-plan's `subsets` is, for its importer, a module exporting just the functions it calls. */
const takeSubsets = {
  name: 'take-subsets',
  setup (context) {
    for (const { module, importer, contents } of subsets) {
      context.onResolve({ filter: new RegExp(`^${module}$`) }, args => importer.test(args.importer) ? { path: module, namespace: `subset-of-${module}`, pluginData: dirname(args.importer) } : undefined)
      context.onLoad({ filter: /.*/, namespace: `subset-of-${module}` }, args => ({ contents, resolveDir: args.pluginData, loader: 'js' }))
    }
  }
}

/** Each module of bundle-plan's `lazyRequires` is bundled into its own CommonJS file, and its importer gets the stand-in. */
const loadLazily = {
  name: 'load-lazily',
  setup (context) {
    const built = new Map()
    for (const { module, importer } of lazyRequires) {
      context.onResolve({ filter: new RegExp(`^${module}$`) }, async args => {
        if (!importer.test(args.importer)) return undefined
        const resolved = await context.resolve(module, { resolveDir: dirname(args.importer), kind: 'require-call' })
        if (resolved.errors.length > 0) return { errors: resolved.errors }
        if (!built.has(module)) built.set(module, build({ entryPoints: [resolved.path], outfile: `${outdir}/${lazyFile(module)}`, bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'warning', legalComments: 'none' }))
        await built.get(module)
        return { path: module, namespace: 'lazy-require' }
      })
    }
    context.onResolve({ filter: /^\.\/chunk-lazy-.*\.cjs$/ }, args => ({ path: args.path, external: true }))
    context.onLoad({ filter: /.*/, namespace: 'lazy-require' }, args => ({
      contents: lazyRequires.find(({ module }) => module === args.path).standIn.replaceAll('LAZY', JSON.stringify(`./${lazyFile(args.path)}`)),
      resolveDir: outdir,
      loader: 'js'
    }))
  }
}

// Chunks sit beside the entry, so a rewritten `import.meta.url` means the same in each of them.
for (const old of readdirSync(outdir).filter(name => name.startsWith('chunk-') || name === 'server.js.map')) rmSync(`${outdir}/${old}`)
await build({
  entryPoints: [`${outdir}/server.js`],
  outdir,
  allowOverwrite: true,
  bundle: true,
  splitting: true,
  chunkNames: 'chunk-[name]-[hash]',
  platform: 'node',
  // Packages come from the repository's node_modules, wherever the build output is written.
  nodePaths: [fileURLToPath(new URL('../node_modules/', import.meta.url))],
  target: 'node20',
  format: 'esm',
  // Packages that find their own files on disk (static UI, worker threads, protos) stay installed packages.
  external: ['@fastify/swagger-ui', 'pino-pretty', 'thread-stream', '@google-cloud/firestore'],
  // CommonJS inside the bundle still calls require() for Node's built-ins and the packages above.
  banner: { js: 'import { createRequire as __jobgateRequire } from \'node:module\'; const require = __jobgateRequire(import.meta.url);' },
  plugins: [keepModuleUrls, takeSubsets, loadLazily],
  logLevel: 'warning',
  // No source map: its ~6 MB would be parsed at every start under --enable-source-maps. Stack traces
  // still read well: the bundle is not minified and names each source file in a comment.
  legalComments: 'none'
})
process.stdout.write(`bundled ${relative(dirname(dist), `${outdir}/server.js`)}\n`)
