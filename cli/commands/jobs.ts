import type { Command } from '../args.js'
import type { Context } from '../context.js'

type JobsCommand = Extract<Command, { name: 'jobs' }>

/** The catalog entries as [id, limits], whether the API sends a list or a map. */
export function jobEntries (body: unknown): Array<[string, Record<string, unknown>]> {
  const jobs = (body as { jobs?: unknown } | null)?.jobs ?? body
  if (Array.isArray(jobs)) {
    return jobs.map((job: Record<string, unknown>) => {
      const { id, name, job: jobName, ...rest } = job
      return [String(id ?? name ?? jobName ?? '?'), rest]
    })
  }
  if (jobs !== null && typeof jobs === 'object') return Object.entries(jobs as Record<string, Record<string, unknown>>)
  return []
}

const compact = (value: unknown): string => typeof value === 'string' ? value : JSON.stringify(value)

/** `jobgate jobs`: what the caller may run, one job per line with its limits. */
export async function jobsCommand (_command: JobsCommand, ctx: Context): Promise<number> {
  const body = await ctx.client.listJobs(ctx.signal)
  if (ctx.json) {
    ctx.terminal.out(JSON.stringify(body, null, 2))
    return 0
  }
  const entries = jobEntries(body)
  if (entries.length === 0) ctx.terminal.err('No jobs you may run.')
  const width = Math.max(0, ...entries.map(([id]) => id.length))
  for (const [id, limits] of entries) {
    const details = Object.entries(limits ?? {}).map(([key, value]) => `${key}=${compact(value)}`).join(' ')
    ctx.terminal.out(`${id.padEnd(width)}  ${details}`.trimEnd())
  }
  return 0
}
