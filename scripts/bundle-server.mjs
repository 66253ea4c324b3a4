// Bundles the compiled server (dist/api/server.js, or DIR/api/server.js) into one ES module plus lazy chunks, in place.
// Why: typebox alone is ~680 files, and Node 20 spends most of a cold start resolving and
// linking modules one by one; one file starts several times faster. Run after tsc (npm run build).
import { readdirSync, rmSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

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
  plugins: [keepModuleUrls],
  logLevel: 'warning',
  // No source map: its ~6 MB would be parsed at every start under --enable-source-maps. Stack traces
  // still read well: the bundle is not minified and names each source file in a comment.
  legalComments: 'none'
})
process.stdout.write(`bundled ${relative(dirname(dist), `${outdir}/server.js`)}\n`)
