import type { Context } from '../context.js'
import { formatElapsed } from '../duration.js'
import { formatTable } from '../table.js'
import type { JobSummary } from '../types.js'
import type { CommandModule } from './index.js'

/** What a caller may override: the env names (and the tenant variable jobgate sets), the args. */
function envOf ({ limits: { env } }: JobSummary): string {
  const allowed = env.allow === undefined ? 'any' : env.allow.length === 0 ? 'none' : env.allow.join(',')
  return env.tenantKey === undefined ? allowed : `${allowed} (tenant: ${env.tenantKey})`
}

export const jobsTable = (jobs: readonly JobSummary[]): string => formatTable(
  ['JOB', 'MAX TASKS', 'MAX TIMEOUT', 'ARGS', 'ENV', 'DESCRIPTION'],
  jobs.map(job => [
    job.id,
    String(job.limits.maxTaskCount),
    formatElapsed(job.limits.maxTimeoutSeconds * 1000),
    job.limits.args.allow ? `up to ${job.limits.args.maxItems}` : 'none',
    envOf(job),
    job.description ?? ''
  ])
)

/** `jobgate jobs`: what the caller may run, one job per row with its limits. */
async function jobsCommand (_options: unknown, ctx: Context): Promise<number> {
  const body = await ctx.client.listJobs(ctx.signal)
  if (ctx.json) ctx.terminal.out(JSON.stringify(body, null, 2))
  else if (body.jobs.length === 0) ctx.terminal.err('No jobs you may run.')
  else ctx.terminal.out(jobsTable(body.jobs))
  return 0
}

export const command: CommandModule<unknown> = { prepare: () => ({}), execute: jobsCommand }
