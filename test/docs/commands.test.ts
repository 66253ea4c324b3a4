/**
 * Every command in the docs' shell blocks names what exists, read from where it is defined: npm scripts
 * from package.json, CLI commands and flags through the CLI's own parser, bench flags from the bench's
 * table, the service and its account from the deploy script's variables. The local-mode blocks also run
 * (walkthrough.test.ts).
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import t from 'tap'
import { benchFlags } from '../../bench/flags.js'
import { parseCommandLine } from '../../cli/args.js'
import { docShellBlocks, repoRoot, shellCommands, type ShellBlock, type ShellCommand } from './shell-blocks.js'

const scripts = Object.keys((JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts)
const deployScript = (name: string): string => readFileSync(join(repoRoot, name), 'utf8')
/** A default the deploy script gives a variable: `NAME=${SETTING:-default}`. */
function scriptDefault (script: string, variable: string): string {
  const found = new RegExp(`^${variable}=\\$\\{\\w+:-([a-z0-9-]+)\\}`, 'm').exec(deployScript(script))?.[1]
  if (found === undefined) throw new Error(`${script} no longer sets ${variable}=\${…:-default}`)
  return found
}
const SERVICE = scriptDefault('build-deploy-api.sh', 'SERVICE')
const SERVICE_SETTING = /^SERVICE=\$\{(\w+):-/m.exec(deployScript('build-deploy-api.sh'))?.[1] ?? 'SERVICE_NAME'
const API_ACCOUNT = scriptDefault('build-deploy-api.sh', 'ACCOUNT_ID')
const JOB_ACCOUNT = /RUNTIME_ACCOUNT=\$\(service_account_email "\$\{\w+:-([a-z0-9-]+)\}"\)/.exec(deployScript('build-deploy-job.sh'))?.[1]

const blocks = docShellBlocks()
const commands = blocks.flatMap(block => shellCommands(block.text).map(command => ({ block, ...withoutNpx(command) })))
const where = (block: ShellBlock, argv: string[]): string => `${block.file}:${block.line}: ${argv.join(' ')}`
/** What a parser said about a command line, or undefined when it took it. */
function refusal (parse: () => unknown): string | undefined {
  try {
    parse()
    return undefined
  } catch (err) {
    return (err as Error).message
  }
}

/** `npx jobgate …` is the CLI; npx's own flags go. */
/** The CLI as the docs run it: installed (`node_modules/.bin/jobgate`) or on the PATH; `npx` marks a call through npx. */
function withoutNpx (command: ShellCommand): ShellCommand {
  if (command.argv[0] === 'node_modules/.bin/jobgate') return { ...command, argv: ['jobgate', ...command.argv.slice(1)] }
  if (command.argv[0] !== 'npx') return command
  const rest = command.argv.slice(1)
  while ((rest[0] ?? '').startsWith('-')) rest.shift()
  return { ...command, argv: rest, npx: true } as ShellCommand
}

t.test('the docs have shell blocks, and the parser reads them as a shell would', async t => {
  t.ok(blocks.length >= 20, `${blocks.length} blocks`)
  t.same(shellCommands('A=1 npm run x -- --y "a b" \'c\' # note\nfor r in a b; do gcloud run deploy "$S" --x="$(gcloud projects describe p)"; done 2>/dev/null'), [
    { argv: ['npm', 'run', 'x', '--', '--y', 'a b', 'c'], assignments: ['A=1'] },
    { argv: ['for', 'r', 'in', 'a', 'b'], assignments: [] },
    { argv: ['gcloud', 'projects', 'describe', 'p'], assignments: [] },
    { argv: ['gcloud', 'run', 'deploy', '$S', '--x=$(…)'], assignments: [] },
    { argv: ['done'], assignments: [] }
  ])
})

t.test('every npm script the docs run exists in package.json', async t => {
  for (const { block, argv } of commands.filter(command => command.argv[0] === 'npm')) {
    const [, sub = '', name = ''] = argv
    if (sub === 'run' || sub === 'run-script') t.ok(scripts.includes(name), `${where(block, argv)}: npm script "${name}"`)
    else if (['start', 'test', 'stop', 'restart'].includes(sub)) t.ok(scripts.includes(sub), `${where(block, argv)}: npm script "${sub}"`)
  }
})

t.test('every CLI command and flag in the docs is one the CLI parses, and none goes through npx (a stranger\'s package outside a checkout)', async t => {
  const cli = commands.filter(command => command.argv[0] === 'jobgate')
  t.ok(cli.length >= 5, `${cli.length} CLI commands`)
  for (const command of cli) {
    const { block, argv } = command
    t.notOk((command as { npx?: boolean }).npx, `${where(block, argv)}: the installed jobgate, as docs/ci.md installs it`)
    t.equal(refusal(() => parseCommandLine(argv.slice(1))), undefined, where(block, argv))
  }
})

t.test('every bench flag in the docs is one of the bench\'s', async t => {
  const bench = commands.flatMap(({ block, argv }) => {
    if (argv[0] === 'npm' && argv[2] === 'bench') return [{ block, argv, flags: argv.slice(argv.indexOf('--') + 1 || argv.length) }]
    const file = argv.findIndex(word => word.endsWith('dist/bench/run.js'))
    return file === -1 ? [] : [{ block, argv, flags: argv.slice(file + 1) }]
  })
  t.ok(bench.length >= 4, `${bench.length} bench commands`)
  for (const { block, argv, flags } of bench) {
    t.equal(refusal(() => parseArgs({ args: flags, options: benchFlags, strict: true })), undefined, where(block, argv))
  }
})

t.test(`gcloud run names the service the deploy script deploys (${SERVICE}, or $${SERVICE_SETTING}), and never resets its variables by hand`, async t => {
  const service = commands.filter(({ argv }) => argv[0] === 'gcloud' && argv[1] === 'run' && (argv[2] === 'deploy' || argv[2] === 'services'))
  t.ok(service.length >= 5, `${service.length} commands on the service`)
  for (const { block, argv } of service) {
    const name = argv.slice(argv[2] === 'deploy' ? 3 : 4).find(word => !word.startsWith('-'))
    t.ok(name === SERVICE || name?.startsWith(`$${SERVICE_SETTING}`), `${where(block, argv)}: service ${String(name)}`)
    // The script deploys with --set-env-vars: its next run would drop anything set here.
    t.notOk(argv.some(word => /^--(set|update|remove)-(env-vars|secrets)/.test(word)), `${where(block, argv)}: settings go through ./build-deploy-api.sh`)
  }
})

t.test('every service account the docs name is created by a deploy script or by the docs themselves', async t => {
  const created = new Set([API_ACCOUNT, JOB_ACCOUNT, ...commands
    .filter(({ argv }) => argv.slice(0, 4).join(' ') === 'gcloud iam service-accounts create').map(({ argv }) => argv[4])])
  let named = 0
  for (const block of blocks) {
    for (const [email, account] of block.text.matchAll(/\b([a-z][a-z0-9-]*)@(?:\$\{?PROJECT(?:_ID)?\}?|PROJECT|my-project)\.iam\.gserviceaccount\.com/g)) {
      named++
      t.ok(created.has(account), `${block.file}:${block.line}: ${email} (accounts: ${[...created].join(', ')})`)
    }
  }
  t.ok(named >= 5, `${named} service accounts named`)
})

t.test('the deploy scripts the docs run exist, with their own flags and variables', async t => {
  for (const { block, argv, assignments } of commands.filter(({ argv }) => /^\.\/build-deploy-\w+\.sh$/.test(argv[0] ?? ''))) {
    const script = (argv[0] ?? '').slice(2)
    t.ok(existsSync(join(repoRoot, script)), `${where(block, argv)}: ${script}`)
    t.same(argv.slice(1).filter(flag => !['--dry-run', '--help'].includes(flag)), [], `${where(block, argv)}: flags`)
    for (const name of assignments.map(assignment => assignment.split('=')[0] ?? '')) {
      t.ok(new RegExp(`\\b${name}\\b`).test(deployScript(script)), `${where(block, argv)}: ${script} reads ${name}`)
    }
  }
})

t.test('every file the docs run with node exists (after npm run build)', async t => {
  for (const { block, argv } of commands.filter(({ argv }) => argv[0] === 'node' && !(argv[1] ?? '').startsWith('-'))) {
    t.ok(existsSync(join(repoRoot, argv[1] ?? '')), where(block, argv))
  }
})
