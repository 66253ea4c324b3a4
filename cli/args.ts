import { parseArgs, type ParseArgsConfig } from 'node:util'
import { parseDurationSeconds } from './duration.js'
import { UsageError } from './usage-error.js'

type Options = NonNullable<ParseArgsConfig['options']>

const globalOptions = {
  url: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' }
} satisfies Options

const waitOptions = {
  wait: { type: 'boolean' },
  logs: { type: 'boolean' },
  'wait-timeout': { type: 'string' }
} satisfies Options

const optionsOf = {
  run: {
    ...globalOptions,
    ...waitOptions,
    arg: { type: 'string', multiple: true },
    env: { type: 'string', multiple: true },
    'env-file': { type: 'string', multiple: true },
    'clear-args': { type: 'boolean' },
    tasks: { type: 'string' },
    timeout: { type: 'string' }
  },
  status: { ...globalOptions, ...waitOptions },
  logs: { ...globalOptions, follow: { type: 'boolean' } },
  cancel: globalOptions,
  jobs: globalOptions
} satisfies Record<string, Options>

export type CommandName = keyof typeof optionsOf
export const commandNames = Object.keys(optionsOf) as CommandName[]

interface Common { url: string | undefined, json: boolean }

export interface WaitFlags {
  wait: boolean
  logs: boolean
  waitTimeoutSeconds: number | undefined
}

export type Command =
  | { name: 'help', topic: CommandName | undefined }
  | { name: 'version' }
  | Common & WaitFlags & {
    name: 'run'
    job: string
    args: string[]
    envPairs: string[]
    envFiles: string[]
    clearArgs: boolean
    taskCount: number | undefined
    timeoutSeconds: number | undefined
  }
  | Common & WaitFlags & { name: 'status', job: string, run: string }
  | Common & { name: 'logs', job: string, run: string, follow: boolean }
  | Common & { name: 'cancel', job: string, run: string }
  | Common & { name: 'jobs' }

const isCommandName = (word: string | undefined): word is CommandName =>
  word !== undefined && Object.hasOwn(optionsOf, word)

/** Every option any command knows, so a first loose pass can find the command word wherever it is. */
const allOptions: Options = Object.assign({ version: { type: 'boolean' } }, ...Object.values(optionsOf))

/** Turns argv (without node and the script) into a Command, or throws UsageError. */
export function parseCommandLine (argv: readonly string[]): Command {
  const loose = parseArgs({ args: [...argv], options: allOptions, strict: false, allowPositionals: true, tokens: true })
  const commandToken = loose.tokens.find(token => token.kind === 'positional')
  if (commandToken === undefined) {
    if (loose.values.version === true) return { name: 'version' }
    if (loose.values.help === true) return { name: 'help', topic: undefined }
    throw new UsageError('missing command')
  }
  const word = commandToken.value
  const rest = argv.filter((_, index) => index !== commandToken.index)
  if (word === 'help') return parseHelp(rest)
  if (!isCommandName(word)) throw new UsageError(`unknown command '${word}'`)
  return parseCommand(word, rest)
}

function parseHelp (rest: string[]): Command {
  const topic = rest.find(arg => !arg.startsWith('-'))
  if (topic !== undefined && !isCommandName(topic)) throw new UsageError(`unknown command '${topic}'`)
  return { name: 'help', topic }
}

function parseCommand (name: CommandName, rest: string[]): Command {
  let parsed
  try {
    parsed = parseArgs({ args: rest, options: optionsOf[name], strict: true, allowPositionals: true, tokens: true })
  } catch (error) {
    throw new UsageError((error as Error).message, name)
  }
  const values = parsed.values as Record<string, string | string[] | boolean | undefined>
  if (values.help === true) return { name: 'help', topic: name }
  const terminator = parsed.tokens.find(token => token.kind === 'option-terminator')
  const afterTerminator = (index: number): boolean => terminator !== undefined && index > terminator.index
  const positionalTokens = parsed.tokens.filter(token => token.kind === 'positional')
  const positionals = positionalTokens.filter(token => !afterTerminator(token.index)).map(token => token.value)
  const trailing = positionalTokens.filter(token => afterTerminator(token.index)).map(token => token.value)
  const common: Common = { url: values.url as string | undefined, json: values.json === true }
  const wantedPositionals = name === 'run' ? 1 : name === 'jobs' ? 0 : 2
  if (name !== 'run' && trailing.length > 0) throw new UsageError('\'--\' is only for run (arguments for the job)', name)
  if (positionals.length < wantedPositionals) throw new UsageError(`missing ${['<job>', '<run>'][positionals.length] ?? 'argument'}`, name)
  if (positionals.length > wantedPositionals) throw new UsageError(`unexpected argument '${positionals[wantedPositionals] ?? ''}'`, name)
  const [job = '', run = ''] = positionals

  switch (name) {
    case 'run': return parseRun(values, common, job, trailing)
    case 'status': return { name, ...common, ...waitFlags(values, name), job, run }
    case 'logs': return { name, ...common, job, run, follow: values.follow === true }
    case 'cancel': return { name, ...common, job, run }
    case 'jobs': return { name, ...common }
  }
}

type Values = Record<string, string | string[] | boolean | undefined>

function parseRun (values: Values, common: Common, job: string, trailing: string[]): Command {
  const args = [...(values.arg as string[] | undefined ?? []), ...trailing]
  const clearArgs = values['clear-args'] === true
  if (clearArgs && args.length > 0) throw new UsageError('--clear-args cannot be combined with --arg (the job would get both no args and some)', 'run')
  const envPairs = values.env as string[] | undefined ?? []
  for (const pair of envPairs) {
    if (!/^[^=]+=/.test(pair)) throw new UsageError(`--env expects KEY=VALUE, got '${pair}'`, 'run')
  }
  return {
    name: 'run',
    ...common,
    ...waitFlags(values, 'run'),
    job,
    args,
    envPairs,
    envFiles: values['env-file'] as string[] | undefined ?? [],
    clearArgs,
    taskCount: positiveInteger(values.tasks as string | undefined, '--tasks'),
    timeoutSeconds: duration(values.timeout as string | undefined, '--timeout', 'run')
  }
}

function waitFlags (values: Values, command: CommandName): WaitFlags {
  const waitTimeoutSeconds = duration(values['wait-timeout'] as string | undefined, '--wait-timeout', command)
  const logs = values.logs === true
  // --logs and --wait-timeout only make sense while waiting, so they imply --wait.
  return { wait: values.wait === true || logs || waitTimeoutSeconds !== undefined, logs, waitTimeoutSeconds }
}

function positiveInteger (text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined
  if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`${flag} expects a whole number ≥ 1, got '${text}'`, 'run')
  }
  return Number(text)
}

function duration (text: string | undefined, flag: string, command: CommandName): number | undefined {
  if (text === undefined) return undefined
  const seconds = parseDurationSeconds(text)
  if (seconds === undefined) throw new UsageError(`${flag} expects a duration like 90, 90s, 15m or 1h30m, got '${text}'`, command)
  return seconds
}
