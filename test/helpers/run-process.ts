import { spawn } from 'node:child_process'
import { once } from 'node:events'

export interface ProcessResult { code: number | null, stdout: string, stderr: string }
export interface RunOptions { env: Record<string, string>, cwd?: string }

/** Runs `file args` to its end with exactly `env`, collecting what it printed. */
export async function runProcess (file: string, args: readonly string[], options: RunOptions): Promise<ProcessResult> {
  const child = spawn(file, args, { env: options.env, ...(options.cwd !== undefined && { cwd: options.cwd }), stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const [code] = await once(child, 'close') as [number | null]
  return { code, stdout, stderr }
}
