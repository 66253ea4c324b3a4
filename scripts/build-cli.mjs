// `node scripts/build-cli.mjs`: writes the bundles of scripts/cli-bundles.mjs (npm run build runs it; so does `npm pack ./cli`).
import { chmodSync } from 'node:fs'
import { join, relative } from 'node:path'
import { build } from 'esbuild'
import { bundles, root } from './cli-bundles.mjs'

for (const options of Object.values(bundles)) {
  await build(options)
  if (options.banner.js.startsWith('#!')) chmodSync(join(root, options.outfile), 0o755)
  process.stdout.write(`bundled ${relative(process.cwd(), join(root, options.outfile))}\n`)
}
