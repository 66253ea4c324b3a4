// The esbuild builds of what leaves this repository without its node_modules: the CLI package's one file
// (google-auth-library stays its dependency, loaded only for Google credentials), the CLI in one file with nothing
// but Node needed (for runners without registry access), and the GitHub Action (committed: a runner runs it as it is).
// Built from the TypeScript sources, so the same inputs give the same bytes in any checkout (the action's test relies on it).
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const root = fileURLToPath(new URL('../', import.meta.url))
const cliVersion = JSON.parse(readFileSync(new URL('../cli/package.json', import.meta.url), 'utf8')).version

// CommonJS inside an ES module bundle still calls require() for Node's built-ins.
const requireShim = 'import { createRequire as __jobgateRequire } from \'node:module\'; const require = __jobgateRequire(import.meta.url);'

const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node20.18',
  format: 'esm',
  define: { JOBGATE_CLI_VERSION: JSON.stringify(cliVersion) },
  legalComments: 'none',
  logLevel: 'warning'
}

export const bundles = {
  /** The installed package's bin: @jobgate/cli's dist/jobgate.mjs. */
  cli: { ...common, entryPoints: ['cli/bin.ts'], outfile: 'cli/dist/jobgate.mjs', external: ['google-auth-library'], banner: { js: `#!/usr/bin/env node\n${requireShim}` } },
  /** Everything in one file: `node jobgate.mjs run …` with Node alone. */
  standalone: { ...common, entryPoints: ['cli/bin.ts'], outfile: 'cli/dist/jobgate-standalone.mjs', banner: { js: `#!/usr/bin/env node\n${requireShim}` } },
  /** action.yml's runs.main, committed. */
  action: { ...common, entryPoints: ['action/main.ts'], outfile: 'action/dist/index.mjs', banner: { js: `// Built by scripts/build-cli.mjs from action/ and cli/; do not edit.\n${requireShim}` } }
}
