import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { parseCommandLine } from '../../cli/args.js'
import { buildRunRequest, prepareRun, type RunOptions } from '../../cli/commands/run.js'
import { formatElapsed, parseDurationSeconds } from '../../cli/duration.js'
import { parseEnvFile } from '../../cli/env-file.js'
import { exitCodeOfState } from '../../cli/exit-codes.js'
import { UsageError } from '../../cli/usage-error.js'
import { cliVersion } from '../../cli/version.js'
import { commandNames } from '../../cli/command-table.js'
import { startFakeApi } from './fake-api.js'
import { prepared, runCli } from './helpers.js'

/** `jobgate run …` as the run command reads it. */
async function runOptions (argv: string[]): Promise<RunOptions> {
  const line = parseCommandLine(argv)
  if (line.name !== 'command') throw new Error(`not a command: ${line.name}`)
  return prepareRun(line.input)
}

t.test('run: every flag, repeatable ones in order, values containing "="', async t => {
  const argv = ['run', 'migrate', '--arg', 'a', '--env', 'A=1', '--env', 'URL=x?y=z', '--arg=-b', '--env-file', 'f.env',
    '--tasks', '3', '--timeout', '15m', '--logs', '--wait-timeout', '1h30m', '--json', '--url', 'http://h', '--timestamps', '--', '--c', 'd']
  t.match(parseCommandLine(argv), { name: 'command', input: { name: 'run', url: 'http://h', json: true, args: { job: 'migrate' }, trailing: ['--c', 'd'] } })
  t.same(await runOptions(argv), {
    wait: true,
    logs: true,
    waitTimeoutSeconds: 5400,
    job: 'migrate',
    args: ['a', '-b', '--c', 'd'],
    envPairs: ['A=1', 'URL=x?y=z'],
    envFiles: ['f.env'],
    clearArgs: false,
    taskCount: 3,
    timeoutSeconds: 900,
    timestamps: true
  })
})

t.test('global options may come before the command; --logs and --wait-timeout imply --wait', async t => {
  t.match(parseCommandLine(['--url', 'http://h', 'status', 'echo', 'r1']), { input: { name: 'status', url: 'http://h', args: { job: 'echo', run: 'r1' } } })
  t.match(await prepared(['--url', 'http://h', 'status', 'echo', 'r1']), { job: 'echo', run: 'r1', wait: false })
  t.match(await prepared(['status', 'echo', 'r1', '--wait-timeout', '10']), { wait: true, logs: false, waitTimeoutSeconds: 10 })
  t.match(await prepared(['run', 'echo', '--clear-args']), { clearArgs: true, args: [], wait: false })
  t.same(await prepared(['logs', 'echo', 'r1', '--follow']), { job: 'echo', run: 'r1', follow: true, timestamps: false })
  t.same(await prepared(['cancel', 'echo', 'r1']), { job: 'echo', run: 'r1' })
  t.same(await prepared(['tasks', 'echo', 'r1', '--failed']), { job: 'echo', run: 'r1', failed: true })
  t.same(await prepared(['runs', 'echo']), { job: 'echo', limit: 20 })
  t.same(await prepared(['runs', 'echo', '--limit', '1000']), { job: 'echo', limit: 1000 })
  t.match(parseCommandLine(['jobs', '--json']), { input: { name: 'jobs', json: true } })
})

t.test('help and version', async t => {
  t.same(parseCommandLine(['--version']), { name: 'version' })
  t.same(parseCommandLine(['-h']), { name: 'help', topic: undefined })
  t.same(parseCommandLine(['run', '--help']), { name: 'help', topic: 'run' })
  t.same(parseCommandLine(['help', 'logs']), { name: 'help', topic: 'logs' })
  t.same(parseCommandLine(['help']), { name: 'help', topic: undefined })
})

t.test('usage errors name the command whose usage to show', async t => {
  const prepares = (argv: string[]): Promise<unknown> => prepared(argv)
  const cases: Array<[string[], RegExp, string | undefined]> = [
    [[], /missing command/, undefined],
    [['deploy'], /unknown command 'deploy'/, undefined],
    [['help', 'deploy'], /unknown command 'deploy'/, undefined],
    [['run'], /missing <job>/, 'run'],
    [['status', 'echo'], /missing <run>/, 'status'],
    [['cancel', 'echo', 'r', 'extra'], /unexpected argument 'extra'/, 'cancel'],
    [['run', 'echo', '--tasks', '0'], /--tasks expects a whole number/, 'run'],
    [['run', 'echo', '--tasks', '2.5'], /--tasks expects a whole number/, 'run'],
    [['run', 'echo', '--timeout', '5x'], /--timeout expects a duration/, 'run'],
    [['status', 'echo', 'r', '--wait-timeout', '0'], /--wait-timeout expects a duration/, 'status'],
    [['run', 'echo', '--env', 'NOEQUALS'], /--env expects KEY=VALUE/, 'run'],
    [['run', 'echo', '--env', '=v'], /--env expects KEY=VALUE/, 'run'],
    [['run', 'echo', '--clear-args', '--arg', 'x'], /--clear-args cannot be combined/, 'run'],
    [['run', 'echo', '--bogus'], /Unknown option '--bogus'/, 'run'],
    [['status', 'echo', 'r', '--tasks', '3'], /Unknown option '--tasks'/, 'status'],
    [['jobs', '--wait'], /Unknown option '--wait'/, 'jobs'],
    [['logs', 'echo', 'r', '--', 'x'], /only for run/, 'logs'],
    [['run', 'echo', '--tasks'], /argument missing/, 'run'],
    [['runs', 'echo', '--limit', '1001'], /--limit expects a whole number ≥ 1 and ≤ 1000, got '1001'/, 'runs'],
    [['tasks', 'echo'], /missing <run>/, 'tasks'],
    [['runs'], /missing <job>/, 'runs']
  ]
  for (const [argv, message, command] of cases) {
    await t.rejects(prepares(argv), { name: 'UsageError', message, command }, argv.join(' '))
  }
})

t.test('durations and elapsed time', async t => {
  t.equal(parseDurationSeconds('90'), 90)
  t.equal(parseDurationSeconds('90s'), 90)
  t.equal(parseDurationSeconds('2h'), 7200)
  t.equal(parseDurationSeconds('1h1m1s'), 3661)
  for (const bad of ['', ' ', '0', '0s', '-5', '1.5', 'm', '5d']) t.equal(parseDurationSeconds(bad), undefined, `'${bad}'`)
  t.equal(formatElapsed(0), '0s')
  t.equal(formatElapsed(59_999), '59s')
  t.equal(formatElapsed(61_000), '1m01s')
  t.equal(formatElapsed(3_600_000), '1h00m00s')
  t.equal(formatElapsed(-5), '0s')
})

t.test('env files: comments, export, quotes, escapes, = in values', async t => {
  const env = parseEnvFile([
    '\uFEFF# a comment',
    '',
    'PLAIN=value with spaces   # trailing comment',
    'export EXPORTED=1',
    'URL=postgres://u:p@h/db?a=b#frag',
    'EMPTY=',
    'SINGLE=\'keep $HOME and \\n as is\'',
    'DOUBLE="line1\\nline2 \\"quoted\\" \\\\ \\q"',
    'SPACED = "x" # comment after quotes',
    'HASH="a # not a comment"'
  ].join('\r\n'), 'f.env')
  t.same(env, {
    PLAIN: 'value with spaces',
    EXPORTED: '1',
    URL: 'postgres://u:p@h/db?a=b#frag',
    EMPTY: '',
    SINGLE: 'keep $HOME and \\n as is',
    DOUBLE: 'line1\nline2 "quoted" \\ \\q',
    SPACED: 'x',
    HASH: 'a # not a comment'
  })
  t.throws(() => parseEnvFile('A=1\nnot a pair', 'f.env'), { message: 'f.env:2: expected KEY=VALUE' })
  t.throws(() => parseEnvFile('A="open', 'f.env'), { message: 'f.env:1: unterminated " quote' })
  t.throws(() => parseEnvFile('A=\'x\' y', 'f.env'), { message: 'f.env:1: unexpected text after the closing quote' })
})

t.test('the run request: env files in order, then --env wins; unset fields left out', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'jobgate-cli-'))
  t.teardown(() => rm(dir, { recursive: true }))
  await writeFile(join(dir, 'a.env'), 'A=from-a\nB=from-a\n')
  await writeFile(join(dir, 'b.env'), 'B=from-b\nC=from-b\n')
  const command = await runOptions(['run', 'echo', '--env-file', join(dir, 'a.env'), '--env-file', join(dir, 'b.env'), '--env', 'C=flag', '--tasks', '2', '--timeout', '60', '--arg', 'x'])
  const { readFile } = await import('node:fs/promises')
  const read = (path: string): Promise<string> => readFile(path, 'utf8')
  t.same(await buildRunRequest(command, read), { args: ['x'], env: { A: 'from-a', B: 'from-b', C: 'flag' }, taskCount: 2, timeoutSeconds: 60 })
  t.same(await buildRunRequest(await runOptions(['run', 'echo']), read), {})
  t.same(await buildRunRequest(await runOptions(['run', 'echo', '--clear-args']), read), { clearArgs: true })
})

t.test('main: usage errors exit 2 with the usage on stderr and nothing on stdout', async t => {
  const api = await startFakeApi()
  t.teardown(() => api.close())
  for (const argv of [['run', 'echo', '--bogus'], ['run', 'echo', '--tasks', 'many'], ['status', 'echo']]) {
    const { code, stdout, stderr } = await runCli(argv, api.url)
    t.equal(code, 2, argv.join(' '))
    t.equal(stdout, '')
    t.match(stderr, /^jobgate: .+\nUsage: jobgate (run|status) <job>.*\n\(jobgate (run|status) --help for more\)\n$/)
  }
  const none = await runCli([], api.url)
  t.equal(none.code, 2)
  t.match(none.stderr, 'Usage: jobgate <run|batch|status|logs|tasks|runs|cancel|events|jobs>')
  t.equal(api.requests.length, 0, 'nothing reached the API')
})

t.test('main: configuration errors exit 2 (no URL, bad URL, unreadable or malformed env file)', async t => {
  const noUrl = await runCli(['jobs'], undefined)
  t.equal(noUrl.code, 2)
  t.match(noUrl.stderr, 'no API URL: pass --url or set JOBGATE_URL')
  t.match(noUrl.stderr, 'Usage: jobgate jobs')
  t.equal((await runCli(['jobs', '--url', 'not a url'], undefined)).code, 2)
  const ftp = await runCli(['jobs', '--url', 'ftp://h'], undefined)
  t.equal(ftp.code, 2)
  t.match(ftp.stderr, 'must be http(s)')

  const api = await startFakeApi()
  t.teardown(() => api.close())
  const missing = await runCli(['run', 'echo', '--env-file', '/nonexistent/x.env'], api.url)
  t.equal(missing.code, 2)
  t.match(missing.stderr, '--env-file /nonexistent/x.env: ENOENT')
  const dir = await mkdtemp(join(tmpdir(), 'jobgate-cli-'))
  t.teardown(() => rm(dir, { recursive: true }))
  await writeFile(join(dir, 'bad.env'), 'OK=1\nwhat is this\n')
  const bad = await runCli(['run', 'echo', '--env-file', join(dir, 'bad.env')], api.url)
  t.equal(bad.code, 2)
  t.match(bad.stderr, `--env-file ${join(dir, 'bad.env')}:2: expected KEY=VALUE`)
  t.equal(api.requests.length, 0, 'no run was started')
})

t.test('main: help on stdout with examples and the exit code table; version', async t => {
  const general = await runCli(['--help'], undefined)
  t.equal(general.code, 0)
  t.match(general.stdout, 'jobgate run migrate --env RELEASE=v42 --wait --logs')
  t.match(general.stdout, '4    --wait-timeout passed; the run continues')
  for (const command of commandNames) {
    t.match(general.stdout, new RegExp(`^  ${command} +\\S`, 'm'), `--help lists ${command}`)
    const help = await runCli([command, '--help'], undefined)
    t.equal(help.code, 0)
    t.match(help.stdout, new RegExp(`^Usage: jobgate ${command}`))
    t.match(help.stdout, 'Examples:')
    t.match(help.stdout, 'Exit codes:')
    t.match(help.stdout, '5    API, authentication or network error')
    t.equal(help.stderr, '')
  }
  const version = await runCli(['--version'], undefined)
  t.equal(version.stdout, `${cliVersion()}\n`)
  t.match(cliVersion(), /^\d+\.\d+\.\d+/)
})

t.test('exit code of a finished run', async t => {
  t.equal(exitCodeOfState('SUCCEEDED'), 0)
  t.equal(exitCodeOfState('FAILED'), 1)
  t.equal(exitCodeOfState('CANCELLED'), 3)
  t.equal(new UsageError('x').command, undefined)
})
