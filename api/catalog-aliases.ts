import { ConfigError } from './config-error.js'

/** The parts of a catalog entry that name its Cloud Run job. */
interface JobAddress { id: string, project: string, region: string, job: string }

/** A project as Cloud Run reads it: ids in any letter case are one project; a number is a number, leading zeros or not. */
function projectKey (project: string): { key: string, isNumber: boolean } {
  const isNumber = /^[0-9]+$/.test(project)
  return { key: isNumber ? project.replace(/^0+(?=.)/, '') : project.toLowerCase(), isNumber }
}

/**
 * Refuses two catalog entries that reach (or may reach) one Cloud Run job under any spelling: their runs,
 * logs and cancels would be shared across both entries' policies (tenant scope included). Cloud Run takes a
 * project's number wherever its id goes, and jobgate cannot tell at start which number is which project,
 * so an id and a number that name the same job and region are refused as a possible alias rather than
 * guessed apart. `regionsApart` is false when one endpoint serves every region (CLOUD_RUN_API_ENDPOINT, the
 * emulator): then the region does not tell two jobs apart either.
 */
export function refuseAliases (entries: Iterable<JobAddress>, variable: string, regionsApart: boolean): void {
  const seen = new Map<string, JobAddress[]>()
  for (const entry of entries) {
    const where = regionsApart ? `${entry.region.toLowerCase()}/${entry.job}` : entry.job
    const others = seen.get(where) ?? []
    const mine = projectKey(entry.project)
    for (const other of others) {
      const theirs = projectKey(other.project)
      const same = mine.key === theirs.key
      if (!same && mine.isNumber === theirs.isNumber) continue
      const job = `job "${entry.job}"${regionsApart ? ` in region ${entry.region}` : ' (one endpoint serves every region)'}`
      const why = same
        ? `the same Cloud Run job (${job}, project "${entry.project}")`
        : `possibly the same Cloud Run job (${job}; project "${other.project}" and "${entry.project}" may be one project's id and number)`
      throw new ConfigError(variable, `jobs "${other.id}" and "${entry.id}" are ${why}: their runs, logs and cancels would be shared ` +
        'across both policies; keep one entry per Cloud Run job, and name its project the same way everywhere')
    }
    others.push(entry)
    seen.set(where, others)
  }
}
