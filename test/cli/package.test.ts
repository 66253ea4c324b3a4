// The CLI as a CI runner gets it: `npm pack ./cli` installed into an empty project, and the single-file build with
// nothing beside it; each runs `run --wait` against jobgate in local mode. (bench/scenarios/cli.ts measures the same.)
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import t from 'tap'
import { bytesUnder, installCli } from '../../bench/lib/installed-cli.js'
import { build } from '../helper.js'
import { startMetadataStandIn } from '../helpers/metadata-standin.js'
import { runProcess } from '../helpers/run-process.js'

const { expectedShrinkwrap } = await import('../../scripts/cli-shrinkwrap.mjs' as string) as { expectedShrinkwrap: () => string }
const CLI_DIR = new URL('../../cli/', import.meta.url).pathname
const cliPackage = JSON.parse(readFileSync(join(CLI_DIR, 'package.json'), 'utf8')) as { version: string }
/** The server side of a CI pipeline must not come along with the CLI. */
const SERVER_PACKAGES = ['fastify', '@fastify', '@google-cloud', 'swagger-ui-dist', 'typebox', 'pino']
const MAX_NODE_MODULES_BYTES = 15e6

// A safety net only: npm pack and npm install, then two CLI processes, on a machine that may be loaded.
t.setTimeout(300_000)
const stack = await build(t, { env: { JOBGATE_MODE: 'local' }, listen: true })
const installed = installCli()
t.teardown(installed.remove)
// No developer credentials and no inherited settings.
const cleanEnv = { PATH: process.env.PATH ?? '', HOME: installed.project, CLOUDSDK_CONFIG: join(installed.project, 'no-gcloud') }

t.test('cli/npm-shrinkwrap.json is the repository lockfile\'s tree for the CLI\'s dependencies', async t => {
  t.equal(readFileSync(join(CLI_DIR, 'npm-shrinkwrap.json'), 'utf8'), expectedShrinkwrap(), 'run `node scripts/cli-shrinkwrap.mjs` after changing cli/package.json or the lockfile')
})

t.test('npm pack gives a tarball that installs into an empty project and runs run --wait', async t => {
  t.same([...installed.files].sort(), ['dist/jobgate.mjs', 'npm-shrinkwrap.json', 'package.json'], 'the bundle, its pins and its manifest: no sources, no tests')
  t.ok(installed.nodeModulesBytes <= MAX_NODE_MODULES_BYTES, `node_modules holds ${(installed.nodeModulesBytes / 1e6).toFixed(1)} MB (at most ${MAX_NODE_MODULES_BYTES / 1e6} MB)`)
  const modules = join(installed.project, 'node_modules')
  const top = readdirSync(modules)
  t.same(top.filter(name => SERVER_PACKAGES.includes(name)), [], 'none of fastify, Firestore, swagger, the schema library or the logger')
  t.ok(top.includes('google-auth-library'), 'google-auth-library, for Google ID tokens')
  const pinned = JSON.parse(expectedShrinkwrap()) as { packages: Record<string, { version: string }> }
  const gaxios = JSON.parse(readFileSync(join(modules, 'gaxios', 'package.json'), 'utf8')) as { version: string }
  t.equal(gaxios.version, pinned.packages['node_modules/gaxios']?.version, 'transitive versions as the shrinkwrap pins them')

  const bin = join(modules, '.bin', 'jobgate')
  const version = await runProcess(bin, ['--version'], { cwd: installed.project, env: cleanEnv })
  t.equal(version.stdout, `${cliPackage.version}\n`)
  const run = await runProcess(bin, ['run', 'echo', '--arg', 'from-the-tarball', '--wait', '--logs'], { cwd: installed.project, env: { ...cleanEnv, JOBGATE_URL: stack.url } })
  t.equal(run.code, 0, run.stderr)
  t.match(run.stdout, /\[task 0\] INFO args args=\["from-the-tarball"\]/)
  t.match(run.stderr, /Run echo-\w+ SUCCEEDED in/)
})

t.test('the single-file build runs with Node alone, Google credentials included', async t => {
  const alone = dirname(installed.standalone)
  t.same(readdirSync(alone), ['jobgate.mjs'], 'no node_modules anywhere near it')
  t.ok(bytesUnder(alone) > 500_000, 'google-auth-library is inside')
  // The metadata server mints the ID token: the bundled google-auth-library is what asks for it.
  const metadata = await startMetadataStandIn()
  t.teardown(() => metadata.close())
  const env = { ...cleanEnv, JOBGATE_URL: stack.url, GCE_METADATA_HOST: metadata.host }
  const run = await runProcess(process.execPath, ['jobgate.mjs', 'run', 'echo', '--tasks', '2', '--wait'], { cwd: alone, env })
  t.equal(run.code, 0, run.stderr)
  t.match(run.stderr, /\(2 of 2 tasks succeeded, 0 failed\)/)
  t.ok(metadata.identityAudiences().length > 0 && metadata.identityAudiences().every(audience => audience === stack.url), 'ID tokens for the API\'s origin')
  const version = await runProcess(process.execPath, ['jobgate.mjs', '--version'], { cwd: alone, env: cleanEnv })
  t.equal(version.stdout, `${cliPackage.version}\n`)
})
