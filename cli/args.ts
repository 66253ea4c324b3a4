import { parseArgs, type ParseArgsConfig } from 'node:util'
import { commandTable, optionsOf, type CommandName, type OptionSpec } from './command-table.js'
import { parseDurationSeconds } from './duration.js'
import { UsageError } from './usage-error.js'

export type { CommandName } from './command-table.js'

export type Values = Readonly<Record<string, string | boolean | string[] | undefined>>

/** One command line as the table reads it; each command's `prepare` reads the values further. */
export interface CommandInput {
  name: CommandName
  /** The positionals, by their names in the table (`job`, `run`). */
  args: Readonly<Record<string, string>>
  /** What came after `--` (only commands whose table entry has `trailing`). */
  trailing: string[]
  values: Values
  url: string | undefined
  json: boolean
}

export type CommandLine =
  | { name: 'help', topic: CommandName | undefined }
  | { name: 'version' }
  | { name: 'command', input: CommandInput }

type ParseOptions = NonNullable<ParseArgsConfig['options']>

/** The table's options as node:util's parseArgs takes them. */
const parseOptions = (options: Readonly<Record<string, OptionSpec>>): ParseOptions =>
  Object.fromEntries(Object.entries(options).map(([name, { type, multiple, short }]) =>
    [name, { type, ...(multiple === true && { multiple }), ...(short !== undefined && { short }) }]))

const isCommandName = (word: string | undefined): word is CommandName => word !== undefined && Object.hasOwn(commandTable, word)

/** Every option any command knows, so a first loose pass can find the command word wherever it is. */
const allOptions: ParseOptions = Object.assign(
  { version: { type: 'boolean' } },
  ...Object.keys(commandTable).map(name => parseOptions(optionsOf(name as CommandName)))
)

/** Turns argv (without node and the script) into a command line, or throws UsageError. */
export function parseCommandLine (argv: readonly string[]): CommandLine {
  const loose = parseArgs({ args: [...argv], options: allOptions, strict: false, allowPositionals: true, tokens: true })
  const commandToken = loose.tokens.find(token => token.kind === 'positional')
  if (commandToken === undefined) {
    if (loose.values.version === true) return { name: 'version' }
    if (loose.values.help === true) return { name: 'help', topic: undefined }
    throw new UsageError('missing command')
  }
  const word = commandToken.value
  const rest = argv.filter((_, index) => index !== commandToken.index)
  if (word === 'help') {
    const topic = rest.find(arg => !arg.startsWith('-'))
    if (topic !== undefined && !isCommandName(topic)) throw new UsageError(`unknown command '${topic}'`)
    return { name: 'help', topic }
  }
  if (!isCommandName(word)) throw new UsageError(`unknown command '${word}'`)
  return parseCommand(word, rest)
}

function parseCommand (name: CommandName, rest: string[]): CommandLine {
  const spec = commandTable[name]
  let parsed
  try {
    parsed = parseArgs({ args: rest, options: parseOptions(optionsOf(name)), strict: true, allowPositionals: true, tokens: true })
  } catch (error) {
    throw new UsageError((error as Error).message, name)
  }
  const values = parsed.values as Values
  if (values.help === true) return { name: 'help', topic: name }
  const terminator = parsed.tokens.find(token => token.kind === 'option-terminator')
  const afterTerminator = (index: number): boolean => terminator !== undefined && index > terminator.index
  const positionalTokens = parsed.tokens.filter(token => token.kind === 'positional')
  const positionals = positionalTokens.filter(token => !afterTerminator(token.index)).map(token => token.value)
  const trailing = positionalTokens.filter(token => afterTerminator(token.index)).map(token => token.value)
  const wanted: readonly string[] = spec.positionals
  if (!('trailing' in spec) && trailing.length > 0) throw new UsageError('\'--\' is only for run (arguments for the job)', name)
  if (positionals.length < wanted.length) throw new UsageError(`missing <${wanted[positionals.length] ?? 'argument'}>`, name)
  if (positionals.length > wanted.length) throw new UsageError(`unexpected argument '${positionals[wanted.length] ?? ''}'`, name)
  const args = Object.fromEntries(wanted.map((argName, index) => [argName, positionals[index] as string]))
  return { name: 'command', input: { name, args, trailing, values, url: values.url as string | undefined, json: values.json === true } }
}

/** Flags shared by the commands that follow a run. */
export interface WaitFlags {
  wait: boolean
  logs: boolean
  waitTimeoutSeconds: number | undefined
}

export function waitFlags (input: CommandInput): WaitFlags {
  const waitTimeoutSeconds = duration(input, 'wait-timeout')
  const logs = input.values.logs === true
  // --logs and --wait-timeout only make sense while waiting, so they imply --wait.
  return { wait: input.values.wait === true || logs || waitTimeoutSeconds !== undefined, logs, waitTimeoutSeconds }
}

export const stringValue = (input: CommandInput, flag: string): string | undefined => input.values[flag] as string | undefined
export const stringValues = (input: CommandInput, flag: string): string[] => input.values[flag] as string[] | undefined ?? []

/** `--flag N`: a whole number from 1 to `max`. */
export function positiveInteger (input: CommandInput, flag: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const text = stringValue(input, flag)
  if (text === undefined) return undefined
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) {
    throw new UsageError(`--${flag} expects a whole number ≥ 1${max < Number.MAX_SAFE_INTEGER ? ` and ≤ ${max}` : ''}, got '${text}'`, input.name)
  }
  return Number(text)
}

/** `--flag S`: a duration in whole seconds. */
export function duration (input: CommandInput, flag: string): number | undefined {
  const text = stringValue(input, flag)
  if (text === undefined) return undefined
  const seconds = parseDurationSeconds(text)
  if (seconds === undefined) throw new UsageError(`--${flag} expects a duration like 90, 90s, 15m or 1h30m, got '${text}'`, input.name)
  return seconds
}

/** A positional argument by its name in the table (the parser made sure it is there). */
export const positional = (input: CommandInput, name: string): string => input.args[name] ?? ''
