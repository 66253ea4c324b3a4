import { randomUUID } from 'node:crypto'
import type { Command } from '../args.js'
import { shellWord, type Context } from '../context.js'
import { parseEnvFile } from '../env-file.js'
import { UsageError } from '../usage-error.js'
import type { RunRequest } from '../types.js'
import { followRun, logPrinter } from './follow.js'

type RunCommand = Extract<Command, { name: 'run' }>

/** The API request for `jobgate run`: env files in order, then --env pairs (later wins). */
export async function buildRunRequest (command: RunCommand, readFile: (path: string) => Promise<string>): Promise<RunRequest> {
  const env: Record<string, string> = {}
  for (const file of command.envFiles) {
    let text: string
    try {
      text = await readFile(file)
    } catch (error) {
      throw new UsageError(`--env-file ${file}: ${(error as Error).message}`, 'run')
    }
    try {
      Object.assign(env, parseEnvFile(text, file))
    } catch (error) {
      throw new UsageError(`--env-file ${(error as Error).message}`, 'run')
    }
  }
  for (const pair of command.envPairs) {
    const at = pair.indexOf('=')
    env[pair.slice(0, at)] = pair.slice(at + 1)
  }
  const body: RunRequest = {}
  if (command.args.length > 0) body.args = command.args
  if (Object.keys(env).length > 0) body.env = env
  if (command.clearArgs) body.clearArgs = true
  if (command.taskCount !== undefined) body.taskCount = command.taskCount
  if (command.timeoutSeconds !== undefined) body.timeoutSeconds = command.timeoutSeconds
  return body
}

/** `jobgate run`: start a run (one Idempotency-Key for all of this invocation's attempts), then maybe follow it. */
export async function runCommand (command: RunCommand, ctx: Context): Promise<number> {
  const body = await buildRunRequest(command, ctx.readFile)
  const idempotencyKey = randomUUID()
  const run = await ctx.client.startRun(command.job, body, idempotencyKey, ctx.signal)
  const statusHint = `jobgate status ${shellWord(command.job)} ${shellWord(run.name)} --wait${ctx.urlFlag}`
  if (!command.wait) {
    if (ctx.json) ctx.terminal.out(JSON.stringify(run, null, 2))
    else ctx.terminal.out(run.name)
    ctx.terminal.err(`Started run ${run.name} of job ${command.job} (${run.state}). Follow it with: ${statusHint}`)
    return 0
  }
  ctx.terminal.err(`Started run ${run.name} of job ${command.job}.`)
  const printEntry = command.logs ? logPrinter(ctx) : undefined
  const result = await followRun(ctx, { job: command.job, run, printEntry, progress: true, waitTimeoutSeconds: command.waitTimeoutSeconds })
  if (ctx.json) ctx.terminal.out(JSON.stringify(result.run, null, 2))
  return result.code
}
