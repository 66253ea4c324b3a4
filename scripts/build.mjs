// `npm run build [-- --outDir DIR]`: compile (tsc), copy the console's static files, bundle the server; into dist/, also
// bundle the CLI package and the GitHub Action in place (scripts/build-cli.mjs: cli/dist/, action/dist/). A build into
// another folder (the deploy tests', standing for the image's) leaves those alone: tests may be reading them meanwhile.
// One script so that an --outDir reaches every step (the deploy test builds into a private folder).
import { spawnSync } from 'node:child_process'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'

const root = new URL('../', import.meta.url).pathname
const { values } = parseArgs({ options: { outDir: { type: 'string', default: 'dist' } } })
const outDir = resolve(root, values.outDir)
const inPlace = outDir === resolve(root, 'dist')

for (const [command, ...args] of [
  [`${root}node_modules/typescript/bin/tsc`, '-p', `${root}tsconfig.build.json`, '--outDir', outDir],
  [`${root}api/console/copy-assets.mjs`, outDir],
  [`${root}scripts/bundle-server.mjs`, outDir],
  ...(inPlace ? [[`${root}scripts/build-cli.mjs`]] : [])
]) {
  const step = spawnSync(process.execPath, [command, ...args], { stdio: 'inherit' })
  if (step.status !== 0) process.exit(step.status ?? 1)
}
