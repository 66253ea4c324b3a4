import type { ApiClient } from './api-client.js'
import { formatElapsed } from './duration.js'
import type { RunTask } from './types.js'

/** Why a task's last attempt failed, in a few words: its exit code, else Cloud Run's message. */
export function failureReason (task: RunTask): string {
  if (task.exitCode !== undefined && task.exitCode !== 0) return `exit code ${task.exitCode}`
  if (task.message !== undefined) return task.message
  if (task.termSignal !== undefined) return `ended by signal ${task.termSignal}`
  return 'no exit code reported'
}

const times = (count: number): string => `${count} attempt${count === 1 ? '' : 's'}`

/** `task 2 failed after 4 attempts: exit code 3`. */
export const describeFailedTask = (task: RunTask): string => `task ${task.index} failed after ${times(task.attempts)}: ${failureReason(task)}`

/** A run's failed tasks, by index: every page, up to `limit`. */
export async function failedTasks (client: ApiClient, job: string, run: string, limit: number, signal?: AbortSignal): Promise<RunTask[]> {
  const tasks: RunTask[] = []
  let pageToken: string | undefined
  do {
    const page = await client.listTasks(job, run, { state: 'FAILED', pageToken }, signal)
    tasks.push(...page.tasks)
    pageToken = page.nextPageToken
  } while (pageToken !== undefined && tasks.length < limit)
  return tasks.slice(0, limit)
}

/** How long a task ran (or has run so far); '-' before it started. */
export function taskDuration (task: RunTask, now: number): string {
  const start = Date.parse(task.startTime ?? '')
  if (Number.isNaN(start)) return '-'
  const end = Date.parse(task.completionTime ?? '')
  return formatElapsed((Number.isNaN(end) ? now : end) - start)
}
