import type { JobEntry } from '../catalog.js'
import type { ScopeView } from '../concurrency/scope-view.js'
import { startBegan, type RunRecord } from './run-record.js'

/**
 * A concurrency scope as a job's reconciler sees it, instead of a read of Cloud Run: the runs it follows (not ended;
 * of `tenant` with tenant scope) and every execution it saw or saw end (`listed`: a lease of one of those that is not
 * running has ended). Runs started elsewhere since its last look are not in it: their leases still count them.
 */
export function followedScopeView (
  entry: JobEntry, followed: readonly RunRecord[], listed: ReadonlySet<string>, tenant: string | undefined
): ScopeView {
  const inScope = entry.concurrency?.scope === 'tenant' ? followed.filter(record => record.tenant === tenant) : followed
  const running = inScope.flatMap(record => record.execution === undefined
    ? []
    : [{ name: record.execution, createTime: new Date(startBegan(record)).toISOString() }])
  return { running, listed }
}
