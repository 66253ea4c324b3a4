import type { JobCatalog, JobEntry } from '../catalog.js'
import type { LifecycleStore } from './store.js'

export interface CeilingConfig {
  /** JOBGATE_MAX_RUNNING_EXECUTIONS: jobgate's runs not ended, per project and region. */
  maxRunningExecutions: number
  /** JOBGATE_RUN_STARTS_PER_MINUTE: starts per project and region in any 60 s; 0: none (Cloud Run's own quota answers). */
  runStartsPerMinute: number
}

/** A start the ceilings hold back: why, and when to try again. */
export interface CeilingHit { message: string, retryAfterSeconds: number }

/** What `within` did: began the start (what `begin` returned), or held it back. */
export type CeilingOutcome<T> = { begun: T } | { hit: CeilingHit }

/**
 * Project-wide ceilings under Cloud Run's quotas (1,000 running executions per project and region, and the
 * job-run requests per minute), counted over the run records every instance shares: a Queue job's start
 * waits under them, any other start is refused with 429 and Retry-After. Exact within an instance (`within`);
 * across instances soft by the starts they check at the same moment.
 */
export class ProjectCeilings {
  readonly #store: LifecycleStore
  readonly #catalog: JobCatalog
  readonly #config: CeilingConfig
  readonly #now: () => number
  /** The check-and-begin under way per project and region: the next waits for it, so two starts never pass on the same count. */
  readonly #turns = new Map<string, Promise<unknown>>()

  constructor (store: LifecycleStore, catalog: JobCatalog, config: CeilingConfig, now: () => number) {
    this.#store = store
    this.#catalog = catalog
    this.#config = config
    this.#now = now
  }

  /**
   * Begins a start of `entry` (`begin` records it, so the next check counts it) if the ceilings let it go ahead now;
   * one at a time per project and region in this instance: 50 starts checked at once would all pass at 899 of 900.
   */
  async within<T> (entry: JobEntry, begin: () => Promise<T>): Promise<CeilingOutcome<T>> {
    const key = `${entry.project}/${entry.region}`
    const turn = (this.#turns.get(key) ?? Promise.resolve()).then(async (): Promise<CeilingOutcome<T>> => {
      const hit = await this.check(entry)
      return hit === undefined ? { begun: await begin() } : { hit }
    })
    const settled = turn.catch(() => {})
    this.#turns.set(key, settled)
    // The last in line lets go of the key: nothing is kept per project once its starts are through.
    void settled.then(() => { if (this.#turns.get(key) === settled) this.#turns.delete(key) })
    return await turn
  }

  /** Undefined when a start of `entry` may go ahead now. */
  async check (entry: JobEntry): Promise<CeilingHit | undefined> {
    const sharing = [...this.#catalog.values()].filter(other => other.project === entry.project && other.region === entry.region)
    const jobs = sharing.map(other => other.id)
    const where = `project ${entry.project}, region ${entry.region}`
    const { maxRunningExecutions, runStartsPerMinute } = this.#config
    if (await this.#store.countOpen(jobs) >= maxRunningExecutions) {
      const message = `jobgate runs ${maxRunningExecutions} executions in ${where} (JOBGATE_MAX_RUNNING_EXECUTIONS); retry once one ended`
      return { message, retryAfterSeconds: 30 }
    }
    if (runStartsPerMinute > 0 && await this.#store.countRecentStarts(jobs, this.#now()) >= runStartsPerMinute) {
      return {
        message: `jobgate started ${runStartsPerMinute} runs in ${where} within the last minute (JOBGATE_RUN_STARTS_PER_MINUTE)`,
        retryAfterSeconds: 10
      }
    }
    return undefined
  }
}
