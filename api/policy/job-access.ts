import { principalMatches } from '../auth/index.js'
import type { JobCatalog, JobEntry } from '../catalog.js'
import { notFound } from '../errors.js'
import { lockEnvWithoutAllowList } from './env-default.js'
import type { Caller } from './run-policy.js'

/** Which catalog jobs a caller may use: with authentication on, only those whose `principals` name it. */
export class JobAccess {
  readonly #catalog: JobCatalog
  readonly #authenticated: boolean
  readonly #envLocked: string[]

  /** With authentication on, jobs without `env.allow` take no env override but their tenant key (env-default.ts). */
  constructor (catalog: JobCatalog, authenticated: boolean) {
    const { catalog: effective, locked } = authenticated ? lockEnvWithoutAllowList(catalog) : { catalog, locked: [] }
    this.#catalog = effective
    this.#authenticated = authenticated
    this.#envLocked = locked
  }

  // Secure default: with authentication on, a job that lists no principals is open to nobody.
  mayUse (entry: JobEntry, caller: Caller): boolean {
    return !this.#authenticated || principalMatches(entry.principals ?? [], caller.name)
  }

  visibleTo (caller: Caller): JobEntry[] {
    return [...this.#catalog.values()].filter(entry => this.mayUse(entry, caller))
  }

  /**
   * The job a route names. A job the caller may not use answers exactly as one that does not exist (404,
   * same words), so no caller can map the catalog's ids; the log line says which it was.
   */
  entryFor (id: string, caller: Caller): JobEntry {
    const entry = this.#catalog.get(id)
    if (entry !== undefined && this.mayUse(entry, caller)) return entry
    const why = entry === undefined ? 'not in the catalog' : `${caller.name} is not on its principals`
    throw notFound(`job "${id}" is not in jobgate's catalog, or not open to you`, new Error(`job "${id}": ${why}`))
  }

  /** Jobs that accept no env override (but their tenant key) because they have no `env.allow`: worth a line in the start-up log. */
  envLocked (): string[] {
    return [...this.#envLocked]
  }

  /** Jobs nobody can run because they list no principals: worth a line in the start-up log. */
  unreachable (): string[] {
    return this.#authenticated
      ? [...this.#catalog.values()].filter(entry => (entry.principals ?? []).length === 0).map(entry => entry.id)
      : []
  }
}
