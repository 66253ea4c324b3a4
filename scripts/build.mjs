// `npm run build [-- --outDir DIR]`: compile (tsc), copy the console's static files, bundle the server; then
// bundle the CLI package and the GitHub Action (scripts/build-cli.mjs; they do not depend on the output folder).
// One script so that an --outDir reaches every step (the deploy test builds into a private folder).
import { spawnSync } from 'node:child_process'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'

const root = new URL('../', import.meta.url).pathname
const { values } = parseArgs({ options: { outDir: { type: 'string', default: 'dist' } } })
const outDir = resolve(root, values.outDir)

for (const [command, ...args] of [
  [`${root}node_modules/typescript/bin/tsc`, '-p', `${root}tsconfig.build.json`, '--outDir', outDir],
  [`${root}api/console/copy-assets.mjs`, outDir],
  [`${root}scripts/bundle-server.mjs`, outDir],
  [`${root}scripts/build-cli.mjs`]
]) {
  const step = spawnSync(process.execPath, [command, ...args], { stdio: 'inherit' })
  if (step.status !== 0) process.exit(step.status ?? 1)
}
