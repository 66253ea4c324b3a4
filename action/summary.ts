import { formatElapsed } from '../cli/duration.js'
import { formatLogEntry } from '../cli/logs.js'
import { elapsedMs } from '../cli/progress.js'
import { shortTime } from '../cli/table.js'
import { failureReason, taskDuration } from '../cli/task-summary.js'
import type { LogEntry, Run, RunTask } from '../cli/types.js'

/** The job summary shows at most this many tasks (a run may have 10,000). */
export const SUMMARY_TASKS = 100

const icons: Record<Run['state'], string> = { QUEUED: '⏳', PENDING: '⏳', RUNNING: '⏳', SUCCEEDED: '✅', FAILED: '❌', CANCELLED: '⛔' }

/** A table cell: pipes escaped, on one line. */
const cell = (text: string): string => text.replace(/\r?\n/g, ' ').replaceAll('|', '\\|')
const table = (header: readonly string[], rows: ReadonlyArray<readonly string[]>): string =>
  [header, header.map(() => '---'), ...rows].map(row => `| ${row.map(cell).join(' | ')} |`).join('\n')

/** A fence longer than any run of backticks in `text`, so a log line cannot close it. */
function fenced (text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map(match => match[0].length))
  const fence = '`'.repeat(longest + 1)
  return `${fence}text\n${text}\n${fence}`
}

export interface SummaryParts {
  job: string
  run: Run
  tasks: readonly RunTask[] | undefined
  lastLines: readonly LogEntry[]
  /** The wait ended at --wait-timeout: the run goes on. */
  stillRunning: boolean
  now: number
}

/** The step's job summary (GITHUB_STEP_SUMMARY, Markdown): the run, its state, its tasks, its last log lines. */
export function jobSummary ({ job, run, tasks, lastLines, stillRunning, now }: SummaryParts): string {
  const state = `${icons[run.state]} ${run.state}${stillRunning ? ' (still running: the step stopped waiting)' : ''}`
  const counts = `${run.succeededCount} succeeded, ${run.failedCount} failed, ${run.runningCount} running, ${run.cancelledCount} cancelled of ${run.taskCount}`
  const parts = [
    `### jobgate: run \`${run.name}\` of \`${job}\``,
    table(['state', 'tasks', 'retried', 'started', 'duration'], [[state, counts, String(run.retriedCount), shortTime(run.startTime ?? run.createTime), formatElapsed(elapsedMs(run, now, now))]])
  ]
  if (run.message !== undefined) parts.push(`> ${cell(run.message)}`)
  if (run.logUri !== undefined) parts.push(`[Log lines in the Cloud Console](${run.logUri})`)
  if (tasks !== undefined && tasks.length > 0) {
    const rows = tasks.slice(0, SUMMARY_TASKS).map(task => [
      String(task.index), task.state, String(task.attempts), task.exitCode === undefined ? '' : String(task.exitCode),
      shortTime(task.startTime), taskDuration(task, now), task.state === 'FAILED' ? failureReason(task) : task.message ?? ''
    ])
    parts.push('#### Tasks', table(['task', 'state', 'attempts', 'exit code', 'started', 'duration', 'why'], rows))
    if (tasks.length > SUMMARY_TASKS) parts.push(`The first ${SUMMARY_TASKS} of ${tasks.length} tasks.`)
  }
  if (lastLines.length > 0) parts.push(`#### Last ${lastLines.length} log lines`, fenced(lastLines.map(entry => formatLogEntry(entry, { timestamps: true })).join('\n')))
  return `${parts.join('\n\n')}\n`
}
