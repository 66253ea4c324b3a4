import type { JobEntry } from '../catalog.js'
import type { CloudRunClient } from '../cloudrun/client.js'
import { isTerminal } from '../../common/run-state.js'
import { executionState } from '../cloudrun/mapping.js'
import { runTenant } from '../policy/run-access.js'

/** A run Cloud Run lists as not ended yet (pending, running or cancelling). */
export interface RunningRun {
  name: string
  /** RFC 3339; orders Replace's victims, oldest first. */
  createTime: string
}

/** What Cloud Run says about one scope, read just before a start: the source of truth for what runs. */
export interface ScopeView {
  /** The scope's runs that have not ended, oldest first. */
  running: RunningRun[]
  /** Every execution name the read saw, ended or not: a lease whose run is here but not running has ended. */
  listed: ReadonlySet<string>
}

/** Executions per list call: Cloud Run v1's page limit. */
export const VIEW_PAGE_SIZE = 100
/** A bound on one start's reads, whatever the job's history. */
export const MAX_VIEW_PAGES = 10

/**
 * Lists the job's executions (labelSelector on the job, newest first) and keeps the scope's running ones
 * (with tenant scope, those whose tenant variable equals `tenant`). Paging stops at a page without a
 * running run whose executions are all older than `lookbackMs` (the job's maximum timeout): usually one read.
 * With `seek` (the runs a reconciler's view counts, to check), it stops too once each of them was listed.
 */
export async function readScopeView (
  cloudRun: CloudRunClient,
  entry: JobEntry,
  tenant: string | undefined,
  lookbackMs: number,
  now: number,
  seek?: ReadonlySet<string>
): Promise<ScopeView> {
  const running: RunningRun[] = []
  const listed = new Set<string>()
  let pageToken: string | undefined
  for (let page = 0; page < MAX_VIEW_PAGES; page++) {
    const result = await cloudRun.listExecutions(entry, { pageSize: VIEW_PAGE_SIZE, ...(pageToken !== undefined && { pageToken }) })
    let anyRunning = false
    let newest = 0
    for (const execution of result.executions) {
      const name = execution.metadata?.name
      if (name === undefined) continue
      listed.add(name)
      const createTime = execution.metadata?.creationTimestamp ?? new Date(now).toISOString()
      newest = Math.max(newest, Date.parse(createTime))
      if (isTerminal(executionState(execution))) continue
      anyRunning = true
      if (tenant === undefined || runTenant(entry, execution) === tenant) running.push({ name, createTime })
    }
    pageToken = result.nextPageToken
    const sought = seek !== undefined && [...seek].every(name => listed.has(name))
    if (pageToken === undefined || sought || (!anyRunning && newest < now - lookbackMs)) break
  }
  running.sort((a, b) => a.createTime.localeCompare(b.createTime))
  return { running, listed }
}
