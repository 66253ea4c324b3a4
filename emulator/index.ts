/**
 * A local stand-in for the Cloud Run Admin API v1 (jobs and executions), the GCE metadata server
 * and Cloud Logging's entries:list, on one HTTP server; tasks run as child processes.
 * See emulator/README.md for what it emulates and what it does not.
 */
import { existsSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Permissions, TokenIssuer } from './auth.js'
import { ExecutionStore, type ExecutionContext } from './executions.js'
import { FaultInjector } from './faults.js'
import { jobFromConfig, JobStore, type JobDefaults } from './jobs.js'
import { LogStore, type LogEntry } from './logs.js'
import type { EmulatorJob, EmulatorOptions, InjectedFailure, RecordedRequest, RequestMatch } from './options.js'
import { Projects } from './projects.js'
import type { V1Execution } from './resources.js'
import { RunApi } from './run-api.js'
import { Runner } from './runner.js'
import { EmulatorServer } from './server.js'

export type { EmulatorJob, EmulatorOptions, InjectedFailure, RecordedRequest, RequestMatch } from './options.js'
export type { LogEntry } from './logs.js'
export type { V1Condition, V1Execution, V1Job, V1Task } from './resources.js'

export interface Emulator {
  /** http://127.0.0.1:PORT: the base URL for CLOUD_RUN_API_ENDPOINT and CLOUD_LOGGING_API_ENDPOINT. */
  url: string
  /** 127.0.0.1:PORT, for GCE_METADATA_HOST. */
  hostPort: string
  projectId: string
  projectNumber: string
  region: string
  /** Adds a job, or replaces the one with the same project and name. */
  addJob: (job: EmulatorJob) => void
  /** From now on the caller lacks this IAM permission (e.g. run.jobs.runWithOverrides): 403 PERMISSION_DENIED. */
  denyPermission: (permission: string) => void
  allowPermission: (permission: string) => void
  /** The next `failure.count` (default 1) requests matching `match` fail (or are delayed, or reset) as described. */
  failNext: (match: RequestMatch, failure: InjectedFailure) => void
  /** Every request received, oldest first (a live array: tests may empty it). */
  requests: RecordedRequest[]
  /** Executions, newest first, of one namespace (project id or number) and job, or of all. */
  executions: (namespace?: string, job?: string) => V1Execution[]
  /** How many of those executions have not ended: a count, cheap enough to sample often over thousands. */
  unfinished: (namespace?: string, job?: string) => number
  /** Resolves with the execution once it has ended. */
  waitForExecution: (name: string, namespace?: string) => Promise<V1Execution>
  /** Every log entry the tasks printed, in the order they were received. */
  logEntries: () => LogEntry[]
  /** Makes every access token issued so far invalid, as if it had expired. */
  expireTokens: () => void
  /** Stops the server and every task process (SIGTERM, then SIGKILL after the grace period). */
  close: () => Promise<void>
}

/** Where the companion job is built: <repo>/dist/job/main.js, from emulator/ or dist/emulator/ alike. */
export function companionJobPath (): string {
  const here = dirname(fileURLToPath(import.meta.url))
  const parent = dirname(here)
  const repo = basename(parent) === 'dist' ? dirname(parent) : parent
  return join(repo, 'dist', 'job', 'main.js')
}

export function defaultJobCommand (): string[] {
  return [process.execPath, companionJobPath()]
}

export async function startEmulator (options: EmulatorOptions = {}): Promise<Emulator> {
  const region = options.region ?? 'us-central1'
  const projectId = options.projectId ?? options.jobs?.[0]?.project ?? 'local-project'
  const projects = new Projects(projectId, options.projectNumber ?? '123456789012')
  const log = options.logger ?? (() => {})
  const serviceAccount = (project: string): string => `${projects.numberOf(project)}-compute@developer.gserviceaccount.com`
  const caller = serviceAccount(projectId)
  const jobDefaults: JobDefaults = { region, command: defaultJobCommand(), serviceAccountName: serviceAccount, caller }
  if (!existsSync(companionJobPath())) log(`warning: ${companionJobPath()} does not exist yet; run \`npm run build\` before running jobs that use the default command`)

  const tokens = new TokenIssuer(options.tokenLifetimeSeconds ?? 3600)
  const permissions = new Permissions()
  const jobs = new JobStore(projects)
  const executions = new ExecutionStore()
  const logs = new LogStore()
  const runner = new Runner(options.killGraceMs ?? 2000)
  const faults = new FaultInjector()
  const requests: RecordedRequest[] = []
  const consoleLogLinks = options.consoleLogLinks ?? true
  const executionContext = (project: string): ExecutionContext =>
    ({ runner, logs, log, projectNumber: projects.numberOf(project), caller, consoleLogLinks })
  const addJob = (job: EmulatorJob): void => jobs.put(jobFromConfig(job, jobDefaults))
  for (const job of options.jobs ?? []) addJob(job)

  const server = new EmulatorServer({
    runApi: new RunApi({ jobs, executions, permissions, projects, region, jobDefaults, executionContext }),
    logs,
    tokens,
    permissions,
    projects,
    metadata: { projectId, projectNumber: projects.projectNumber, region, serviceAccountEmail: serviceAccount(projectId), tokens },
    faults,
    requests,
    log
  })
  await new Promise<void>((resolve, reject) => {
    server.http.once('error', reject)
    server.http.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve())
  })
  const address = server.http.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  const hostPort = `${host}:${address.port}`
  let closed: Promise<void> | undefined

  return {
    url: `http://${hostPort}`,
    hostPort,
    projectId,
    projectNumber: projects.projectNumber,
    region,
    addJob,
    denyPermission: permission => permissions.deny(permission),
    allowPermission: permission => permissions.allow(permission),
    failNext: (match, failure) => faults.add(match, failure),
    requests,
    executions: (namespace, job) =>
      executions.list(namespace === undefined ? undefined : projects.idOf(namespace), job).map(run => run.resource()),
    unfinished: (namespace, job) =>
      executions.list(namespace === undefined ? undefined : projects.idOf(namespace), job).filter(run => run.outcome === undefined).length,
    waitForExecution: async (name, namespace) => {
      // By key when the project is known: local mode waits on every start, so a scan of every execution would add up.
      const run = namespace === undefined
        ? executions.list().find(candidate => candidate.name === name)
        : executions.get(projects.idOf(namespace), name)
      if (!run) throw new RangeError(`no execution named ${name}`)
      await run.done
      return run.resource()
    },
    logEntries: () => logs.all(),
    expireTokens: () => tokens.expireAll(),
    close: () => {
      closed ??= (async () => {
        server.close()
        const stopped = new Promise<void>(resolve => server.http.close(() => resolve()))
        server.http.closeAllConnections()
        executions.closeAll()
        await runner.stopAll()
        await stopped
      })()
      return closed
    }
  }
}
