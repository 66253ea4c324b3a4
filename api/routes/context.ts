import type { JobCatalog, JobEntry } from '../catalog.js'
import type { CloudRunClient } from '../cloudrun/client.js'
import { notFound } from '../errors.js'
import type { RunStarter } from '../runs/starter.js'

/** What route modules need from the app: handed in, never imported as singletons. */
export interface RouteContext {
  catalog: JobCatalog
  cloudRun: CloudRunClient
  starter: RunStarter
}

export function jobEntry (catalog: JobCatalog, id: string): JobEntry {
  const entry = catalog.get(id)
  if (entry === undefined) throw notFound(`job "${id}" is not in jobgate's catalog`)
  return entry
}
