import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The built companion job; `npm test` builds it first (pretest), single files need `npm run build`. */
export const jobMain = fileURLToPath(new URL('../../dist/job/main.js', import.meta.url))

export interface JobRun {
  child: ChildProcess
  lines: Array<Record<string, unknown>>
  /** Resolves once a line with this message has been printed. */
  lineWith: (message: string) => Promise<Record<string, unknown>>
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null, stderr: string }>
}

/** Runs dist/job/main.js as a real child process with exactly `env` (plus PATH) and parses its JSON lines. */
export function runJob (args: string[], env: Record<string, string>): JobRun {
  if (!existsSync(jobMain)) throw new Error(`${jobMain} is missing: run \`npm run build\` first`)
  const child = spawn(process.execPath, [jobMain, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: Array<Record<string, unknown>> = []
  const waiters: Array<{ message: string, resolve: (line: Record<string, unknown>) => void }> = []
  let buffer = ''
  let stderr = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk
    let newline
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = JSON.parse(buffer.slice(0, newline)) as Record<string, unknown>
      buffer = buffer.slice(newline + 1)
      lines.push(line)
      for (const waiter of waiters.filter(w => w.message === line.message)) waiter.resolve(line)
    }
  })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null, stderr: string }>(resolve => {
    child.on('close', (code, signal) => resolve({ code, signal, stderr }))
  })
  const lineWith = (message: string): Promise<Record<string, unknown>> => {
    const seen = lines.find(line => line.message === message)
    if (seen) return Promise.resolve(seen)
    return new Promise(resolve => waiters.push({ message, resolve }))
  }
  return { child, lines, lineWith, exited }
}
