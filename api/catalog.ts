import { Compile } from 'typebox/compile'
import { refuseAliases } from './catalog-aliases.js'
import { ConfigError } from './config-error.js'
import { inlineOrFile, type Env } from './env.js'
import { concurrencyRuleOf, type ConcurrencyRule } from './concurrency/rule.js'
import { compilePubsubMapping, type PubsubMapping } from './events/pubsub.js'
import { Catalog, CLOUD_RUN_MAX_TASK_COUNT, type CatalogEntry } from './schemas/catalog.js'
import { isResourceName } from './schemas/names.js'

export const DEFAULT_MAX_TIMEOUT_SECONDS = 86_400
export const DEFAULT_MAX_ARGS = 100

/** A catalog entry with every default applied: what policy and the Cloud Run client work from. */
export interface JobEntry {
  /** The public id used in URLs. */
  id: string
  project: string
  region: string
  /** The Cloud Run job name. */
  job: string
  description?: string
  container?: string
  env: { allow?: string[], tenantKey?: string, refuseSecretNames?: boolean }
  args: { allow: boolean, maxItems: number }
  maxTaskCount: number
  maxTimeoutSeconds: number
  /** Who may run it; absent means nobody when authentication is on. */
  principals?: string[]
  /** How a Pub/Sub push message becomes a run; absent: the job takes no Pub/Sub pushes. */
  pubsub?: PubsubMapping
  /** Forbid or Replace, per job or tenant; absent: Allow (no limit). */
  concurrency?: ConcurrencyRule
  /** Follow runs started outside jobgate too (their events are published like jobgate's own). */
  followsExternalRuns?: boolean
}

export type JobCatalog = ReadonlyMap<string, JobEntry>

const catalogCheck = Compile(Catalog)

export interface CatalogDefaults {
  project?: string
  region: string
  /** False when one endpoint serves every region (CLOUD_RUN_API_ENDPOINT, local mode's emulator); default true. */
  regionsApart?: boolean
}

/** Parses and validates catalog JSON; `variable` names the setting it came from, for error lines. */
export function parseCatalog (text: string, variable: string, defaults: CatalogDefaults): JobCatalog {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    throw new ConfigError(variable, `not valid JSON (${(err as Error).message})`)
  }
  if (!catalogCheck.Check(raw)) {
    const [first] = catalogCheck.Errors(raw)
    throw new ConfigError(variable, `invalid catalog at ${first?.instancePath || '/'}: ${first?.message ?? 'does not match the schema'}`)
  }
  const jobs = new Map<string, JobEntry>()
  for (const [id, entry] of Object.entries(raw.jobs)) {
    if (!isResourceName(id)) throw new ConfigError(variable, `job id "${id}" must be lowercase letters, digits and hyphens, starting with a letter (max 63)`)
    jobs.set(id, resolveEntry(id, entry, defaults, variable))
  }
  // Runs are found by Cloud Run job, so two ids for one job would share runs across their policies.
  refuseAliases(jobs.values(), variable, defaults.regionsApart ?? true)
  return jobs
}

function resolveEntry (id: string, entry: CatalogEntry, defaults: CatalogDefaults, variable: string): JobEntry {
  const project = entry.project ?? defaults.project
  if (project === undefined) throw new ConfigError(variable, `job "${id}" has no project and GOOGLE_CLOUD_PROJECT is not set`)
  const resolved: JobEntry = {
    id,
    project,
    region: entry.region ?? defaults.region,
    job: entry.job ?? id,
    env: { ...entry.env },
    args: { allow: entry.args?.allow ?? true, maxItems: entry.args?.maxItems ?? DEFAULT_MAX_ARGS },
    maxTaskCount: entry.maxTaskCount ?? CLOUD_RUN_MAX_TASK_COUNT,
    maxTimeoutSeconds: entry.maxTimeoutSeconds ?? DEFAULT_MAX_TIMEOUT_SECONDS
  }
  if (entry.container !== undefined) resolved.container = entry.container
  if (entry.description !== undefined) resolved.description = entry.description
  if (entry.principals !== undefined) resolved.principals = entry.principals
  if (entry.events?.external === true) resolved.followsExternalRuns = true
  if (entry.pubsub !== undefined) resolved.pubsub = pubsubMappingOf(id, entry, resolved, variable)
  const concurrency = entry.concurrency === undefined ? undefined : concurrencyOf(id, entry, variable)
  if (concurrency !== undefined) resolved.concurrency = concurrency
  return resolved
}

function concurrencyOf (id: string, entry: CatalogEntry, variable: string): ConcurrencyRule | undefined {
  try {
    return concurrencyRuleOf(entry.concurrency ?? { policy: 'Allow' }, entry.env?.tenantKey)
  } catch (err) {
    throw new ConfigError(variable, `job "${id}": ${(err as Error).message}`)
  }
}

function pubsubMappingOf (id: string, entry: CatalogEntry, resolved: JobEntry, variable: string): PubsubMapping {
  const policy = entry.pubsub ?? {}
  if ((policy.args?.length ?? 0) > 0 && !resolved.args.allow) throw new ConfigError(variable, `job "${id}": pubsub.args given but the job does not accept args`)
  try {
    return compilePubsubMapping(policy)
  } catch (err) {
    throw new ConfigError(variable, `job "${id}": pubsub.${(err as Error).message}`)
  }
}

/** Reads the catalog from `JOBGATE_JOBS` or `JOBGATE_JOBS_FILE` (never both), else `fallback` (local mode's echo job). */
export function loadCatalog (env: Env, defaults: CatalogDefaults, fallback?: string): JobCatalog {
  const source = inlineOrFile(env, 'JOBGATE_JOBS')
  if (source !== undefined) return parseCatalog(source.text, source.variable, defaults)
  if (fallback !== undefined) return parseCatalog(fallback, 'JOBGATE_JOBS', defaults)
  throw new ConfigError('JOBGATE_JOBS', 'no job catalog: set JOBGATE_JOBS (JSON) or JOBGATE_JOBS_FILE (path)')
}
