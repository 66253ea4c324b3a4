import type { ApiClient } from './api-client.js'
import type { Terminal } from './terminal.js'

/** What every command gets: where to write, whom to call, and how the user can interrupt. */
export interface Context {
  terminal: Terminal
  client: ApiClient
  json: boolean
  /** Aborts when the user presses Ctrl-C. */
  signal: AbortSignal | undefined
  stdin: NodeJS.ReadableStream | undefined
  env: Readonly<Record<string, string | undefined>>
  now: () => number
  readFile: (path: string) => Promise<string>
  /** `--url X`, repeated in printed hints when the URL came from the command line. */
  urlFlag: string
}

/** Quotes a word for a POSIX shell only when it needs it, so hints can be pasted as they are. */
export const shellWord = (word: string): string => /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, '\'\\\'\'')}'`

/** The command that picks up waiting where this process left off. */
export const resumeCommand = (ctx: Context, job: string, run: string, logs: boolean): string =>
  `jobgate status ${shellWord(job)} ${shellWord(run)} --wait${logs ? ' --logs' : ''}${ctx.urlFlag}`
