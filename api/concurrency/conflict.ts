import type { JobEntry } from '../catalog.js'
import { runPath } from '../cloudrun/mapping.js'
import { ApiError, type ErrorBody } from '../errors.js'
import type { ConcurrencyRule } from './rule.js'

/** A start refused by the job's concurrency policy: 409 ABORTED naming the running runs, `Location` at the oldest. */
export class ConcurrencyConflict extends ApiError {
  readonly runningRuns: string[]
  readonly onConflict: ConcurrencyRule['onConflict']

  constructor (entry: JobEntry, rule: ConcurrencyRule, tenant: string | undefined, running: string[], starting: number) {
    const [first] = running
    const scope = tenant === undefined ? '' : ` for tenant "${tenant}"`
    const what = [
      ...(running.length > 0 ? [`running: ${running.join(', ')}`] : []),
      ...(starting > 0 ? [`${starting} start${starting === 1 ? '' : 's'} in progress`] : [])
    ].join('; ')
    super('ABORTED', `job "${entry.id}" allows ${rule.maxRunning} running run${rule.maxRunning === 1 ? '' : 's'}${scope} ` +
      `(concurrency policy ${rule.policy}) and is at the limit (${what}); wait for a run to end, then retry`,
    first === undefined ? {} : { location: runPath(entry.id, first) })
    this.name = 'ConcurrencyConflict'
    this.runningRuns = running
    this.onConflict = rule.onConflict
  }

  override toBody (): ErrorBody {
    const body = super.toBody()
    body.error.runningRuns = this.runningRuns
    return body
  }
}
