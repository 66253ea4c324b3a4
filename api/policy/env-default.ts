import type { JobCatalog, JobEntry } from '../catalog.js'

/**
 * Safe by default: with authentication on, a job whose catalog entry has no `env.allow` accepts no
 * env override except its tenant key (jobgate sets that one). The denylist alone cannot protect a
 * job: `BASH_ENV`, `HTTPS_PROXY` or a runtime's option variable turn an override into code
 * execution or token theft. Local mode (authentication off) keeps the open default.
 */
export function lockEnvWithoutAllowList (catalog: JobCatalog): { catalog: JobCatalog, locked: string[] } {
  const locked: string[] = []
  const result = new Map<string, JobEntry>()
  for (const [id, entry] of catalog) {
    if (entry.env.allow === undefined) locked.push(id)
    result.set(id, entry.env.allow === undefined ? { ...entry, env: { ...entry.env, allow: [] } } : entry)
  }
  return { catalog: result, locked }
}
