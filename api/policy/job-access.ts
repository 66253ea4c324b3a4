import { principalMatches } from '../auth/index.js'
import type { JobCatalog, JobEntry } from '../catalog.js'
import { notFound, permissionDenied } from '../errors.js'
import type { Caller } from './run-policy.js'

/** Which catalog jobs a caller may use: with authentication on, only those whose `principals` name it. */
export class JobAccess {
  readonly #catalog: JobCatalog
  readonly #authenticated: boolean

  constructor (catalog: JobCatalog, authenticated: boolean) {
    this.#catalog = catalog
    this.#authenticated = authenticated
  }

  // Secure default: with authentication on, a job that lists no principals is open to nobody.
  mayUse (entry: JobEntry, caller: Caller): boolean {
    return !this.#authenticated || principalMatches(entry.principals ?? [], caller.name)
  }

  visibleTo (caller: Caller): JobEntry[] {
    return [...this.#catalog.values()].filter(entry => this.mayUse(entry, caller))
  }

  /** The job a route names, or 404 when it is not in the catalog, 403 when the caller may not use it. */
  entryFor (id: string, caller: Caller): JobEntry {
    const entry = this.#catalog.get(id)
    if (entry === undefined) throw notFound(`job "${id}" is not in jobgate's catalog`)
    if (!this.mayUse(entry, caller)) throw permissionDenied(`${caller.name} may not use job "${id}"`)
    return entry
  }

  /** Jobs nobody can run because they list no principals: worth a line in the start-up log. */
  unreachable (): string[] {
    return this.#authenticated ? [...this.#catalog.values()].filter(entry => (entry.principals ?? []).length === 0).map(entry => entry.id) : []
  }
}
