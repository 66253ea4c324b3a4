import { parseCatalog, type JobCatalog, type JobEntry } from '../../api/catalog.js'
import type { CatalogEntry } from '../../api/schemas/catalog.js'

/** Test defaults: the project and region every test entry falls back to. */
export const TEST_PROJECT = 'p'
export const TEST_REGION = 'europe-west1'

/** A catalog built by the real parser, so tests see exactly the defaults production applies. */
export function testCatalog (jobs: Record<string, CatalogEntry>): JobCatalog {
  return parseCatalog(JSON.stringify({ jobs }), 'TEST_CATALOG', { project: TEST_PROJECT, region: TEST_REGION })
}

/** One resolved entry with id `id` (default `echo`). */
export function testEntry (entry: CatalogEntry = {}, id = 'echo'): JobEntry {
  const resolved = testCatalog({ [id]: entry }).get(id)
  if (resolved === undefined) throw new Error('unreachable: the entry was just parsed')
  return resolved
}
