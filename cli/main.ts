import { readFile } from 'node:fs/promises'
import { ApiClient, ApiResponseError, NetworkError } from './api-client.js'
import { parseCommandLine, type CommandInput } from './args.js'
import type { CommandName } from './command-table.js'
import { commandModules, type CommandModule } from './commands/index.js'
import { AuthUnavailableError, googleIdTokenSource, resolveCredentials, silenceMetadataLookupWarnings, type Credentials, type IdTokenSource } from './auth.js'
import { shellWord, type Context } from './context.js'
import { ExitCode } from './exit-codes.js'
import { commandHelp, commandUsage, generalHelp, shortUsage } from './help.js'
import type { RetryPolicy } from './retry.js'
import { Terminal, type TextSink } from './terminal.js'
import { UsageError } from './usage-error.js'
import { cliVersion, userAgent } from './version.js'

/** Everything the CLI touches outside itself. Each field defaults to the real process's. */
export interface CliIo {
  stdout: TextSink
  stderr: TextSink
  /** Where the Ctrl-C prompt reads its one line. */
  stdin: NodeJS.ReadableStream | undefined
  env: Readonly<Record<string, string | undefined>>
  /** A person at a terminal: redraw progress in place, ask before cancelling on Ctrl-C. */
  isTTY: boolean
  /** Terminal width; the progress line is cut to it. */
  columns: number | undefined
  /** Aborting it is Ctrl-C. */
  signal: AbortSignal | undefined
  /** Google ID tokens when no API key is set (default: Application Default Credentials). */
  idTokenSource: IdTokenSource
  /** Backoff of the CLI's own retries (tests make it quick). */
  retryPolicy: RetryPolicy | undefined
  now: () => number
}

function withDefaults (io: Partial<CliIo>): CliIo {
  const realTerminal = io.stderr === undefined
  return {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    stdin: 'stdin' in io ? io.stdin : process.stdin,
    env: io.env ?? process.env,
    isTTY: io.isTTY ?? (realTerminal && process.stderr.isTTY && process.stdin.isTTY),
    columns: io.columns ?? (realTerminal ? process.stderr.columns : undefined),
    signal: io.signal,
    idTokenSource: io.idTokenSource ?? googleIdTokenSource(),
    retryPolicy: io.retryPolicy,
    now: io.now ?? Date.now
  }
}

/** The whole CLI: parses argv, does the work, returns the exit code. Never calls process.exit. */
export async function main (argv: readonly string[], partialIo: Partial<CliIo> = {}): Promise<number> {
  const io = withDefaults(partialIo)
  const terminal = new Terminal(io.stdout, io.stderr, io.isTTY, io.columns)
  let input: CommandInput
  let command: CommandModule<unknown>
  let prepared: unknown
  try {
    const line = parseCommandLine(argv)
    if (line.name === 'version') {
      terminal.out(cliVersion())
      return ExitCode.succeeded
    }
    if (line.name === 'help') {
      io.stdout.write(line.topic === undefined ? generalHelp : commandHelp(line.topic))
      return ExitCode.succeeded
    }
    input = line.input
    // Each command's module is loaded when it runs, so `--version` and `--help` load almost nothing.
    command = await commandModules[input.name]()
    prepared = command.prepare(input)
  } catch (error) {
    return usageFailure(terminal, error as UsageError)
  }

  let client: ApiClient | undefined
  let credentials: Credentials | undefined
  try {
    const url = apiUrl(input.url ?? io.env.JOBGATE_URL, input.name)
    credentials = await resolveCredentials({ env: io.env, url, idTokenSource: io.idTokenSource })
    client = new ApiClient({
      baseUrl: url,
      credentials,
      userAgent: userAgent(),
      ...(io.retryPolicy === undefined ? {} : { retryPolicy: io.retryPolicy }),
      onRetry: notice => terminal.err(`jobgate: ${notice}`)
    })
    const ctx: Context = {
      terminal,
      client,
      json: input.json,
      signal: io.signal,
      stdin: io.stdin,
      env: io.env,
      now: io.now,
      readFile: path => readFile(path, 'utf8'),
      urlFlag: input.url === undefined ? '' : ` --url ${shellWord(input.url)}`
    }
    return await command.execute(prepared, ctx)
  } catch (error) {
    return failure(terminal, await unknownJob(error, input, client, io.signal), io.signal, credentials)
  }
}

/** A 404 for a job that is not in the catalog is a usage error, naming the jobs the caller may use; other errors stay as they are. */
async function unknownJob (error: unknown, input: CommandInput, client?: ApiClient, signal?: AbortSignal): Promise<unknown> {
  const job = input.args.job
  const notFound = error instanceof ApiResponseError && error.httpStatus === 404
  if (!notFound || job === undefined || client === undefined || signal?.aborted === true) return error
  let known: string[]
  try {
    known = (await client.listJobs(signal)).jobs.map(entry => entry.id)
  } catch {
    return error
  }
  if (known.includes(job)) return error
  const choices = known.length === 0 ? 'you may use no job' : `jobs you may use: ${known.join(', ')}`
  return new UsageError(`job '${job}' is not in jobgate's catalog; ${choices}`, input.name)
}

function apiUrl (text: string | undefined, command: CommandName): URL {
  if (text === undefined || text === '') throw new UsageError('no API URL: pass --url or set JOBGATE_URL', command)
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new UsageError(`not a URL: '${text}'`, command)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError(`the API URL must be http(s), got '${text}'`, command)
  return url
}

function usageFailure (terminal: Terminal, error: UsageError): number {
  if (!(error instanceof UsageError)) throw error
  terminal.err(`jobgate: ${error.message}`)
  terminal.err(error.command === undefined ? shortUsage : `${commandUsage(error.command)}\n(jobgate ${error.command} --help for more)`)
  return ExitCode.usage
}

/** Every way a command can fail, as one line (or a few) on stderr and an exit code. */
function failure (terminal: Terminal, error: unknown, signal: AbortSignal | undefined, credentials: Credentials | undefined): number {
  terminal.clearStatus()
  if (error instanceof UsageError) return usageFailure(terminal, error)
  if (signal?.aborted === true) {
    terminal.err('jobgate: interrupted.')
    return ExitCode.interrupted
  }
  if (error instanceof AuthUnavailableError) {
    terminal.err(`jobgate: ${error.message}`)
    return ExitCode.apiError
  }
  if (error instanceof ApiResponseError) {
    terminal.err(`jobgate: ${error.status ?? 'HTTP'} ${error.httpStatus}: ${error.message}`)
    if (error.httpStatus === 401 || error.httpStatus === 403) terminal.err(authHint(credentials))
    return ExitCode.apiError
  }
  if (error instanceof NetworkError) {
    terminal.err(`jobgate: network error (${error.code}): ${error.message}`)
    return ExitCode.apiError
  }
  terminal.err(`jobgate: unexpected error: ${(error as Error).stack ?? String(error)}`)
  return ExitCode.apiError
}

const credentialNames: Record<Credentials['kind'], string> = {
  'api-key': 'the API key in JOBGATE_API_KEY',
  'id-token': 'the ID token in JOBGATE_ID_TOKEN',
  google: 'a Google ID token from Application Default Credentials',
  none: 'no credentials (neither JOBGATE_API_KEY nor Google credentials were found)'
}

const authHint = (credentials: Credentials | undefined): string =>
  `  (sent ${credentials === undefined ? 'nothing' : credentialNames[credentials.kind]}; check that the server accepts it and that this identity may run the job)`

/** The process entry point used by bin/jobgate.js: real streams, and Ctrl-C as an abort. */
export async function run (argv: readonly string[]): Promise<number> {
  const interrupt = new AbortController()
  const onSigint = (): void => interrupt.abort()
  // `once`: a second Ctrl-C (e.g. at the cancel prompt) gets node's default and ends the process.
  process.once('SIGINT', onSigint)
  silenceMetadataLookupWarnings()
  try {
    return await main(argv, { signal: interrupt.signal })
  } finally {
    process.off('SIGINT', onSigint)
  }
}
