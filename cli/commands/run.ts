import { randomUUID } from 'node:crypto'
import { positional, positiveInteger, duration, stringValues, waitFlags, type CommandInput, type WaitFlags } from '../args.js'
import { shellWord, type Context } from '../context.js'
import { parseEnvFile } from '../env-file.js'
import { UsageError } from '../usage-error.js'
import type { RunRequest } from '../types.js'
import { stateLabel } from '../progress.js'
import { followRun, logPrinter } from './follow.js'
import type { CommandModule } from './index.js'

export interface RunOptions extends WaitFlags {
  job: string
  args: string[]
  envPairs: string[]
  envFiles: string[]
  clearArgs: boolean
  taskCount: number | undefined
  timeoutSeconds: number | undefined
  timestamps: boolean
}

export function prepareRun (input: CommandInput): RunOptions {
  const args = [...stringValues(input, 'arg'), ...input.trailing]
  const clearArgs = input.values['clear-args'] === true
  if (clearArgs && args.length > 0) throw new UsageError('--clear-args cannot be combined with --arg (the job would get both no args and some)', 'run')
  const envPairs = stringValues(input, 'env')
  for (const pair of envPairs) {
    if (!/^[^=]+=/.test(pair)) throw new UsageError(`--env expects KEY=VALUE, got '${pair}'`, 'run')
  }
  return {
    ...waitFlags(input),
    job: positional(input, 'job'),
    args,
    envPairs,
    envFiles: stringValues(input, 'env-file'),
    clearArgs,
    taskCount: positiveInteger(input, 'tasks'),
    timeoutSeconds: duration(input, 'timeout'),
    timestamps: input.values.timestamps === true
  }
}

/** The API request for `jobgate run`: env files in order, then --env pairs (later wins). */
export async function buildRunRequest (options: RunOptions, readFile: (path: string) => Promise<string>): Promise<RunRequest> {
  const env: Record<string, string> = {}
  for (const file of options.envFiles) {
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
  for (const pair of options.envPairs) {
    const at = pair.indexOf('=')
    env[pair.slice(0, at)] = pair.slice(at + 1)
  }
  const body: RunRequest = {}
  if (options.args.length > 0) body.args = options.args
  if (Object.keys(env).length > 0) body.env = env
  if (options.clearArgs) body.clearArgs = true
  if (options.taskCount !== undefined) body.taskCount = options.taskCount
  if (options.timeoutSeconds !== undefined) body.timeoutSeconds = options.timeoutSeconds
  return body
}

/** `jobgate run`: start a run (one Idempotency-Key for all of this invocation's attempts), then maybe follow it. */
async function runCommand (options: RunOptions, ctx: Context): Promise<number> {
  const body = await buildRunRequest(options, ctx.readFile)
  const idempotencyKey = randomUUID()
  const answered = await ctx.client.startRun(options.job, body, idempotencyKey, ctx.signal)
  // A queued run's place is read, not part of the start's answer.
  const run = answered.state === 'QUEUED' ? await ctx.client.getRun(options.job, answered.name, { signal: ctx.signal }) : answered
  const statusHint = `jobgate status ${shellWord(options.job)} ${shellWord(run.name)} --wait${ctx.urlFlag}`
  const what = run.state === 'QUEUED' ? 'Queued' : 'Started'
  if (!options.wait) {
    if (ctx.json) ctx.terminal.out(JSON.stringify(run, null, 2))
    else ctx.terminal.out(run.name)
    ctx.terminal.err(`${what} run ${run.name} of job ${options.job} (${stateLabel(run)}). Follow it with: ${statusHint}`)
    return 0
  }
  ctx.terminal.err(run.state === 'QUEUED'
    ? `Queued run ${run.name} of job ${options.job}: ${stateLabel(run)}.`
    : `Started run ${run.name} of job ${options.job}.`)
  const printEntry = options.logs ? logPrinter(ctx, options) : undefined
  const result = await followRun(ctx, { job: options.job, run, printEntry, progress: true, waitTimeoutSeconds: options.waitTimeoutSeconds })
  if (ctx.json) ctx.terminal.out(JSON.stringify(result.run, null, 2))
  return result.code
}

export const command: CommandModule<RunOptions> = { prepare: prepareRun, execute: runCommand }
