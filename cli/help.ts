import { commandNames, commandTable, globalOptions, type CommandName, type CommandSpec, type OptionSpec } from './command-table.js'
import { exitCodeTable } from './exit-codes.js'

/** `--env K=V`, `-h, --help`. */
const flagOf = (name: string, option: OptionSpec): string =>
  `${option.short === undefined ? '' : `-${option.short}, `}--${name}${option.value === undefined ? '' : ` ${option.value}`}`

/** Flags with their help, aligned. */
const optionLines = (options: Readonly<Record<string, OptionSpec>>): string => {
  const flags = Object.entries(options).map(([name, option]) => [flagOf(name, option), option.help] as const)
  const width = Math.max(...flags.map(([flag]) => flag.length))
  return flags.map(([flag, help]) => `  ${flag.padEnd(width)}  ${help}`).join('\n')
}

/** `jobgate run <job> [--arg V]… [--wait] [--json] [-- ARG…]`, from the table. */
export function usageLine (name: CommandName): string {
  const spec: CommandSpec = commandTable[name]
  const words = [
    'jobgate', name,
    ...spec.positionals.map(positional => `<${positional}>`),
    ...Object.entries(spec.options).map(([flag, option]) => `[--${flag}${option.value === undefined ? '' : ` ${option.value}`}]${option.multiple === true ? '…' : ''}`),
    '[--json]',
    ...(spec.trailing === undefined ? [] : [`[-- ${spec.trailing}…]`])
  ]
  return words.join(' ')
}

const connection = `Connection:
${optionLines(globalOptions)}

Authentication (first that applies):
  JOBGATE_API_KEY   an API key, sent as X-API-Key
  JOBGATE_ID_TOKEN  a ready-made Google ID token (e.g. from google-github-actions/auth, token_format: id_token)
  otherwise a Google ID token for the API URL from Application Default Credentials:
  the metadata server (Cloud Build, GCE, Cloud Run), a service-account key in
  GOOGLE_APPLICATION_CREDENTIALS, the Workload Identity Federation file google-github-actions/auth
  leaves, or gcloud's user credentials. Tokens and keys are never printed.`

export const commandUsage = (name: CommandName): string => `Usage: ${usageLine(name)}`

const capitalized = (text: string): string => `${text.charAt(0).toUpperCase()}${text.slice(1)}.`

export function commandHelp (name: CommandName): string {
  const spec: CommandSpec = commandTable[name]
  const sections = [
    commandUsage(name),
    capitalized(spec.summary),
    ...(Object.keys(spec.options).length === 0 ? [] : [`Options:\n${optionLines(spec.options)}`]),
    ...(spec.notes === undefined ? [] : [spec.notes]),
    `Examples:\n${spec.examples.map(example => `  ${example}`).join('\n')}`,
    connection,
    exitCodeTable
  ]
  return `${sections.join('\n\n')}\n`
}

const commandList = (): string => {
  const width = Math.max(...commandNames.map(name => name.length))
  return commandNames.map(name => `  ${name.padEnd(width)}  ${commandTable[name].summary}`).join('\n')
}

export const generalHelp = `jobgate — start Cloud Run jobs through the jobgate API, follow them, stream their logs

Usage: jobgate <command> <arguments> [options]

Commands:
${commandList()}

  jobgate help <command> | jobgate <command> --help | jobgate --version

Examples:
  export JOBGATE_URL=https://jobgate-abc123-ew.a.run.app
  jobgate jobs
  jobgate run migrate --env RELEASE=v42 --wait --logs
  jobgate runs migrate
  jobgate tasks migrate migrate-x7k2p

${connection}

${exitCodeTable}
`

export const shortUsage = `Usage: jobgate <${commandNames.join('|')}> … (jobgate --help for more)`
