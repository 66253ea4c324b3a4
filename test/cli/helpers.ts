import { parseCommandLine } from '../../cli/args.js'
import { commandModules } from '../../cli/commands/index.js'
import type { CliIo } from '../../cli/main.js'
import { main } from '../../cli/main.js'

export interface Captured {
  code: number
  stdout: string
  stderr: string
}

/** Sinks that remember what was written. */
export function memorySink (): { write: (chunk: string) => boolean, text: () => string } {
  const chunks: string[] = []
  return { write: chunk => { chunks.push(chunk); return true }, text: () => chunks.join('') }
}

/** No Google credentials: tests never reach for the real metadata server. */
export const noGoogle = async (): Promise<string> => { throw new Error('Could not load the default credentials.') }

export const quickRetries = { attempts: 5, baseDelayMs: 10, maxDelayMs: 50 }

/** Runs the CLI in-process against `url` with captured output and no real process state. */
export async function runCli (argv: string[], url: string | undefined, io: Partial<CliIo> = {}): Promise<Captured> {
  const stdout = memorySink()
  const stderr = memorySink()
  const code = await main(argv, {
    stdout,
    stderr,
    stdin: undefined,
    env: url === undefined ? {} : { JOBGATE_URL: url },
    isTTY: false,
    idTokenSource: noGoogle,
    retryPolicy: quickRetries,
    ...io
  })
  return { code, stdout: stdout.text(), stderr: stderr.text() }
}

/** A command line as its command's `prepare` reads it, or the help / version line. */
export async function prepared (argv: string[]): Promise<unknown> {
  const line = parseCommandLine(argv)
  if (line.name !== 'command') return line
  return (await commandModules[line.input.name]()).prepare(line.input)
}
