import { randomUUID } from 'node:crypto'
import { ApiResponseError, NetworkError } from '../api-client.js'
import { duration, positional, stringValue, type CommandInput } from '../args.js'
import type { Context } from '../context.js'
import { ExitCode, exitCodeOfState } from '../exit-codes.js'
import { describeCounts } from '../progress.js'
import { sleep } from '../retry.js'
import type { Batch, RunRequest } from '../types.js'
import { UsageError } from '../usage-error.js'
import type { CommandModule } from './index.js'

export interface BatchOptions {
  job: string
  /** A file of run requests, one JSON object per line; `-`: stdin. */
  from: string
  wait: boolean
  waitTimeoutSeconds: number | undefined
}

/** Runs one batch may hold (the API's bound): a longer file is refused before anything is sent. */
const MAX_RUNS = 1000
/** Longest hold asked of the server per poll. */
const POLL_SECONDS = 30

export function prepareBatch (input: CommandInput): BatchOptions {
  const from = stringValue(input, 'from')
  if (from === undefined || from === '') {
    throw new UsageError('--from is required: a file of run requests, one JSON object per line (\'-\': stdin)', 'batch')
  }
  const waitTimeoutSeconds = duration(input, 'wait-timeout')
  return { job: positional(input, 'job'), from, wait: input.values.wait === true || waitTimeoutSeconds !== undefined, waitTimeoutSeconds }
}

/** The run requests of a JSON Lines text: one object per line, blank lines skipped; a bad line is a usage error naming it. */
export function parseRunLines (text: string, source: string): RunRequest[] {
  const runs: RunRequest[] = []
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch (error) {
      throw new UsageError(`--from ${source}: line ${index + 1} is not JSON (${(error as Error).message})`, 'batch')
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new UsageError(`--from ${source}: line ${index + 1} is not a JSON object (a run request, e.g. {"env":{"K":"V"}})`, 'batch')
    }
    runs.push(value as RunRequest)
  }
  if (runs.length === 0) throw new UsageError(`--from ${source}: no run requests (one JSON object per line)`, 'batch')
  if (runs.length > MAX_RUNS) {
    throw new UsageError(`--from ${source}: ${runs.length} run requests; a batch holds at most ${MAX_RUNS}`, 'batch')
  }
  return runs
}

async function readAll (stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk))
  return Buffer.concat(chunks).toString('utf8')
}

async function readRuns (options: BatchOptions, ctx: Context): Promise<RunRequest[]> {
  let text: string
  try {
    if (options.from !== '-') text = await ctx.readFile(options.from)
    else if (ctx.stdin === undefined) throw new Error('no standard input')
    else text = await readAll(ctx.stdin)
  } catch (error) {
    throw new UsageError(`--from ${options.from}: ${(error as Error).message}`, 'batch')
  }
  return parseRunLines(text, options.from === '-' ? 'stdin' : options.from)
}

/** Long-polls the batch until it ends (or --wait-timeout passes), a line on stderr whenever its counts change. */
async function followBatch (ctx: Context, options: BatchOptions, first: Batch): Promise<{ batch: Batch, ended: boolean }> {
  const deadline = options.waitTimeoutSeconds === undefined ? Number.POSITIVE_INFINITY : ctx.now() + options.waitTimeoutSeconds * 1000
  let batch = first
  let shown = describeCounts(batch)
  while (batch.state === 'RUNNING') {
    const remainingMs = deadline - ctx.now()
    if (remainingMs <= 0) return { batch, ended: false }
    const askedAt = ctx.now()
    const waitSeconds = Math.max(1, Math.min(POLL_SECONDS, Math.ceil(remainingMs / 1000)))
    batch = await ctx.client.getBatch(options.job, batch.name, { waitSeconds, signal: ctx.signal })
    if (describeCounts(batch) !== shown) ctx.terminal.err(`Batch ${batch.name}: ${shown = describeCounts(batch)}`)
    // Never a tight loop, whatever the server's hold.
    const spent = ctx.now() - askedAt
    if (batch.state === 'RUNNING' && spent < 1000) await sleep(1000 - spent, ctx.signal)
  }
  return { batch, ended: true }
}

/** `jobgate batch`: queue the file's runs as one batch (one Idempotency-Key for every attempt), then maybe follow it. */
async function batchCommand (options: BatchOptions, ctx: Context): Promise<number> {
  const runs = await readRuns(options, ctx)
  const batch = await ctx.client.startBatch(options.job, runs, randomUUID(), ctx.signal)
  ctx.terminal.err(`Queued batch ${batch.name} of job ${options.job}: ${batch.runs.length} runs (${describeCounts(batch)}).`)
  if (!options.wait) {
    ctx.terminal.out(ctx.json ? JSON.stringify(batch, null, 2) : batch.name)
    return ExitCode.succeeded
  }
  let followed
  try {
    followed = await followBatch(ctx, options, batch)
  } catch (error) {
    if (ctx.signal?.aborted === true) {
      ctx.terminal.err(`Interrupted: batch ${batch.name} continues.`)
      return ExitCode.interrupted
    }
    if (!(error instanceof ApiResponseError || error instanceof NetworkError)) throw error
    ctx.terminal.err(`jobgate: lost track of batch ${batch.name}: ${error.message}. Its runs continue.`)
    return ExitCode.apiError
  }
  if (ctx.json) ctx.terminal.out(JSON.stringify(followed.batch, null, 2))
  if (!followed.ended) {
    ctx.terminal.err(
      `Stopped waiting (--wait-timeout): batch ${batch.name} is still RUNNING (${describeCounts(followed.batch)}); its runs continue.`)
    return ExitCode.waitTimeout
  }
  ctx.terminal.err(`Batch ${batch.name} ${followed.batch.state}: ${describeCounts(followed.batch)} (of ${batch.runs.length} runs).`)
  return exitCodeOfState(followed.batch.state)
}

export const command: CommandModule<BatchOptions> = { prepare: prepareBatch, execute: batchCommand }
