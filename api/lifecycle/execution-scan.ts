import type { JobEntry } from '../catalog.js'
import type { CloudRunClient } from '../cloudrun/client.js'
import type { Execution } from '../cloudrun/execution.js'
import { markerOf } from '../cloudrun/mapping.js'

/** What one scan looks for: executions by name, and starts whose answer was lost, by the marker jobgate set on them. */
export interface ScanWanted {
  names: ReadonlySet<string>
  markers: ReadonlySet<string>
  /** Epoch ms: nothing wanted was created before this, so the scan stops at older executions. */
  since: number
  /** Also collect executions without jobgate's marker (runs started outside jobgate). */
  unmarked?: boolean
}

export interface ScanResult {
  byName: Map<string, Execution>
  byMarker: Map<string, Execution>
  /** With `wanted.unmarked`: executions created since `since` that jobgate did not start. */
  unmarked: Execution[]
  /** Every execution created since `since` was seen: what was not found does not exist (or not any more). */
  complete: boolean
  /** Pages read (each one upstream list call). */
  pages: number
}

/** Cloud Run's clock and ours differ; an execution is matched even if it looks this much older than its record. */
const CLOCK_SLACK_MS = 5 * 60_000
const MAX_PAGES = 10

const createdMs = (execution: Execution): number => Date.parse(execution.metadata?.creationTimestamp ?? '') || Number.POSITIVE_INFINITY

/**
 * Finds many runs of one job with as few reads as Cloud Run allows: `executions.list` (label selector on
 * the job) answers newest first, so pages are read until everything wanted was seen or the executions
 * are older than anything wanted. 40 running runs of a job cost one list call, not 40 gets.
 * `takeRead` is asked before each page (the read budget); false ends the scan, incomplete.
 */
export async function scanExecutions (
  cloudRun: Pick<CloudRunClient, 'listExecutions'>,
  entry: JobEntry,
  wanted: ScanWanted,
  takeRead: () => boolean
): Promise<ScanResult> {
  const result: ScanResult = { byName: new Map(), byMarker: new Map(), unmarked: [], complete: false, pages: 0 }
  const pageSize = Math.min(100, Math.max(20, wanted.names.size + wanted.markers.size + 10))
  let pageToken: string | undefined
  while (result.pages < MAX_PAGES && takeRead()) {
    const page = await cloudRun.listExecutions(entry, { pageSize, ...(pageToken !== undefined && { pageToken }) })
    result.pages++
    let older = false
    for (const execution of page.executions) {
      const name = execution.metadata?.name
      if (name !== undefined && wanted.names.has(name)) result.byName.set(name, execution)
      const marker = markerOf(execution)
      if (marker !== undefined && wanted.markers.has(marker)) result.byMarker.set(marker, execution)
      if (createdMs(execution) < wanted.since - CLOCK_SLACK_MS) older = true
      else if (marker === undefined && wanted.unmarked === true) result.unmarked.push(execution)
    }
    const allFound = result.byName.size === wanted.names.size && result.byMarker.size === wanted.markers.size && wanted.unmarked !== true
    pageToken = page.nextPageToken
    if (allFound || older || pageToken === undefined) {
      result.complete = true
      break
    }
  }
  return result
}
