/** The wire types of the jobgate API (CONTRACT.md §4) as the CLI reads them. */

export type RunState = 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED'

export interface Run {
  name: string
  job: string
  state: RunState
  createTime?: string
  startTime?: string
  completionTime?: string
  taskCount?: number
  runningCount?: number
  succeededCount?: number
  failedCount?: number
  cancelledCount?: number
  logUri?: string
  links?: { self?: string, logs?: string }
}

export interface LogEntry {
  timestamp?: string
  severity?: string
  taskIndex?: number | null
  message?: string
  payload?: Record<string, unknown>
  /** Not in the contract yet; used as the dedupe key when the API adds it. */
  insertId?: string
}

export interface LogPage {
  entries?: LogEntry[]
  nextPageToken?: string
}

/** The request body of `POST /v1/jobs/{job}/runs`. */
export interface RunRequest {
  args?: string[]
  env?: Record<string, string>
  clearArgs?: boolean
  taskCount?: number
  timeoutSeconds?: number
}

const terminalStates: ReadonlySet<RunState> = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED'])

export const isTerminal = (run: Run): boolean => terminalStates.has(run.state)
