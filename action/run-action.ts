import { randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { ApiClient, ApiResponseError, NetworkError } from '../cli/api-client.js'
import { googleIdTokenSource, type Credentials, type IdTokenSource } from '../cli/auth.js'
import type { Context } from '../cli/context.js'
import { formatLogEntry, LogFollower } from '../cli/logs.js'
import type { RetryPolicy } from '../cli/retry.js'
import { describeFailedTask, failedTasks } from '../cli/task-summary.js'
import { Terminal, type TextSink } from '../cli/terminal.js'
import type { LogEntry, Run, RunRequest, RunTask } from '../cli/types.js'
import { userAgent } from '../cli/version.js'
import type { WaitResult } from '../cli/wait.js'
import { watchRun } from '../cli/watch-run.js'
import { inputVariable, readInputs, secretLooking, type ActionInputs } from './inputs.js'
import { StepFiles } from './step-files.js'
import { jobSummary } from './summary.js'
import { WorkflowCommands } from './workflow-commands.js'

/** What the action touches outside itself; tests hand in their own. */
export interface ActionIo {
  /** The runner's environment: INPUT_*, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, and the credentials others left. */
  env: Readonly<Record<string, string | undefined>>
  /** The step's log. */
  stdout: TextSink
  /** Google ID tokens (default: Application Default Credentials). */
  idTokenSource?: IdTokenSource
  retryPolicy?: RetryPolicy
  now?: () => number
}

/** The job summary keeps this many of the run's last log lines; this many failed tasks get an annotation each. */
const LAST_LINES = 20
const FAILED_TASKS_ANNOTATED = 10

const runRequest = (inputs: ActionInputs): RunRequest => ({
  ...(inputs.args.length > 0 && { args: inputs.args }),
  ...(Object.keys(inputs.env).length > 0 && { env: inputs.env }),
  ...(inputs.taskCount !== undefined && { taskCount: inputs.taskCount }),
  ...(inputs.timeoutSeconds !== undefined && { timeoutSeconds: inputs.timeoutSeconds })
})

/** The step's credentials; a Google ID token is fetched once here, so a missing credential fails the step before a run starts. */
async function credentialsFor (inputs: ActionInputs, io: ActionIo, commands: WorkflowCommands): Promise<Credentials> {
  const { apiKey, idTokenAudience: audience } = inputs
  if (apiKey !== undefined) return { kind: 'api-key', headers: async () => ({ 'x-api-key': apiKey }) }
  if (audience === undefined) return { kind: 'none', headers: async () => ({}) }
  const source = io.idTokenSource ?? googleIdTokenSource()
  const masked = new Set<string>()
  const token = async (): Promise<string> => {
    const value = await source(audience)
    if (!masked.has(value)) { masked.add(value); commands.addMask(value) }
    return value
  }
  await token()
  return { kind: 'google', headers: async () => ({ authorization: `Bearer ${await token()}` }) }
}

/** An API, auth or network failure as one annotation; the step fails. */
function apiFailure (commands: WorkflowCommands, error: unknown, doing: string): number {
  if (error instanceof ApiResponseError) commands.error(`${doing}: ${error.status ?? 'HTTP'} ${error.httpStatus}: ${error.message}`, 'jobgate: API error')
  else if (error instanceof NetworkError) commands.error(`${doing}: network error (${error.code}): ${error.message}`, 'jobgate: network error')
  else throw error
  return 1
}

/** How the step ends: its exit code, and an annotation for each way the run did not succeed. */
function verdict (commands: WorkflowCommands, result: WaitResult, failed: readonly RunTask[]): number {
  const { run } = result
  if (result.kind === 'timeout') {
    commands.error(`stopped waiting (wait-timeout): run ${run.name} is still ${run.state} and continues`, 'jobgate: wait-timeout')
    return 1
  }
  if (run.state === 'SUCCEEDED') {
    commands.line(`Run ${run.name} SUCCEEDED: ${run.succeededCount} of ${run.taskCount} tasks.`)
    return 0
  }
  if (run.state === 'CANCELLED') {
    commands.error(`run ${run.name} was cancelled (${run.succeededCount} of ${run.taskCount} tasks had succeeded)`, 'jobgate: run cancelled')
    return 1
  }
  for (const task of failed.slice(0, FAILED_TASKS_ANNOTATED)) commands.error(describeFailedTask(task), `jobgate: run ${run.name} failed`)
  if (failed.length > FAILED_TASKS_ANNOTATED) commands.error('and more failed tasks: see the job summary', `jobgate: run ${run.name} failed`)
  if (failed.length === 0) commands.error(run.message ?? `run ${run.name} failed`, `jobgate: run ${run.name} failed`)
  return 1
}

/** The GitHub Action: start a run, follow it with its log lines in a group, set the outputs, write the job summary. */
export async function runAction (io: ActionIo): Promise<number> {
  const commands = new WorkflowCommands(io.stdout)
  // First of all: the key given as an input never shows in the log, whatever happens next.
  const rawKey = io.env[inputVariable('api-key')]?.trim()
  if (rawKey !== undefined && rawKey !== '') commands.addMask(rawKey)
  const read = readInputs(io.env)
  if ('problems' in read) {
    commands.error(read.problems.join('\n'), 'jobgate: bad input')
    return 1
  }
  const { inputs } = read
  for (const [name, value] of Object.entries(inputs.env)) if (secretLooking(name) && value !== '') commands.addMask(value)
  const files = new StepFiles(io.env, commands)
  const now = io.now ?? Date.now

  let credentials: Credentials
  try {
    credentials = await credentialsFor(inputs, io, commands)
  } catch (error) {
    commands.error(`no Google ID token for audience ${inputs.idTokenAudience ?? ''}: ${(error as Error).message}`, 'jobgate: credentials')
    return 1
  }
  const client = new ApiClient({
    baseUrl: inputs.url,
    credentials,
    userAgent: `${userAgent()} github-action`,
    ...(io.retryPolicy !== undefined && { retryPolicy: io.retryPolicy }),
    onRetry: notice => commands.line(`jobgate: ${notice}`)
  })
  const terminal = new Terminal(io.stdout, io.stdout, false)
  const ctx: Context = { terminal, client, json: false, signal: undefined, stdin: undefined, env: io.env, now, readFile: path => readFile(path, 'utf8'), urlFlag: '' }

  let run: Run
  try {
    run = await client.startRun(inputs.job, runRequest(inputs), randomUUID())
  } catch (error) {
    return apiFailure(commands, error, `starting a run of ${inputs.job}`)
  }
  commands.line(`Started run ${run.name} of job ${inputs.job}.`)
  files.output('run', run.name)
  if (!inputs.wait) {
    files.runOutputs(run, inputs.url)
    files.summary(jobSummary({ job: inputs.job, run, tasks: undefined, lastLines: [], stillRunning: false, now: now() }))
    return 0
  }

  const lastLines: LogEntry[] = []
  const remember = (entry: LogEntry): void => { lastLines.push(entry); if (lastLines.length > LAST_LINES) lastLines.shift() }
  let result: WaitResult
  try {
    result = await commands.quoted(`jobgate: run ${run.name} of ${inputs.job}`, async () => await watchRun(ctx, {
      job: inputs.job,
      run,
      printEntry: inputs.logs ? entry => { remember(entry); commands.line(formatLogEntry(entry)) } : undefined,
      progress: true,
      waitTimeoutSeconds: inputs.waitTimeoutSeconds,
      onRun: latest => { run = latest }
    }))
  } catch (error) {
    files.runOutputs(run, inputs.url)
    return apiFailure(commands, error, `following run ${run.name} (it may still be going)`)
  }
  run = result.run
  files.runOutputs(run, inputs.url)
  // The summary's tables: best effort, a server without the tasks route still gets its summary.
  const tasks = await client.listTasks(inputs.job, run.name, {}).then(page => page.tasks, () => undefined)
  const failed = run.state === 'FAILED' ? await failedTasks(client, inputs.job, run.name, FAILED_TASKS_ANNOTATED + 1).catch(() => []) : []
  if (!inputs.logs) await new LogFollower(client, inputs.job, run.name, remember).drain().catch(() => {})
  files.summary(jobSummary({ job: inputs.job, run, tasks, lastLines, stillRunning: result.kind === 'timeout', now: now() }))
  return verdict(commands, result, failed)
}
