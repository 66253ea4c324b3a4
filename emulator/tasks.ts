import { constants } from 'node:os'
import { selfLink } from './jobs.js'
import {
  API_VERSION, EXECUTION_LABEL, EXECUTION_UID_LABEL, RUNNING_STATE_LABEL, withoutZeros,
  type V1Condition, type V1Execution, type V1Task, type V1TaskAttemptResult
} from './resources.js'
import type { TaskExit } from './runner.js'

/**
 * One task of an execution as Cloud Run v1's `namespaces.tasks` shows it: `{execution}-task{index}`,
 * labelled with its execution and running state, `status.retried` counting the attempts after the
 * first, and `lastAttemptResult` saying how the last attempt that ended ended.
 */

export type TaskPhase = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled'

/** What an execution remembers of one task. */
export interface TaskRecord {
  readonly index: number
  readonly uid: string
  phase: TaskPhase
  /** The current (or last) attempt, from 0. */
  attempt: number
  startedAt?: Date
  endedAt?: Date
  lastAttempt?: { exit: TaskExit, timedOut: boolean }
}

const runningStates: Record<TaskPhase, string> = {
  pending: 'Pending', running: 'Running', succeeded: 'Succeeded', failed: 'Failed', cancelled: 'Cancelled'
}

export const taskName = (execution: string, index: number): string => `${execution}-task${index}`

/** The execution's name and task index a task name stands for; undefined when it is not a task name. */
export function parseTaskName (name: string): { execution: string, index: number } | undefined {
  const match = /^(.+)-task(\d{1,5})$/.exec(name)
  return match === null ? undefined : { execution: match[1] as string, index: Number(match[2]) }
}

/** Why an attempt failed, in Cloud Run's words. */
export function attemptFailure (exit: TaskExit, timedOut: boolean): string {
  if (timedOut) return 'The configured timeout was reached'
  if (exit.error !== undefined) return `The container could not be started: ${exit.error}`
  if (exit.signal !== null) return `The container was terminated by signal ${exit.signal}`
  return `The container exited with an error (exit code ${exit.code ?? 'unknown'})`
}

function attemptResult ({ exit, timedOut }: NonNullable<TaskRecord['lastAttempt']>): V1TaskAttemptResult {
  const succeeded = exit.code === 0 && !timedOut
  const result: V1TaskAttemptResult = { status: succeeded ? {} : { message: attemptFailure(exit, timedOut) } }
  // proto3 JSON: an exit code of 0 is left out.
  if (exit.code !== null && exit.code !== 0) result.exitCode = exit.code
  if (exit.signal !== null) result.termSignal = constants.signals[exit.signal]
  return result
}

function conditions (task: TaskRecord, at: string): V1Condition[] {
  const started = task.startedAt?.toISOString() ?? at
  const ended = task.endedAt?.toISOString() ?? at
  const completed: V1Condition = task.phase === 'succeeded'
    ? { type: 'Completed', status: 'True', lastTransitionTime: ended }
    : task.phase === 'failed'
      ? { type: 'Completed', status: 'False', reason: 'Failed', message: task.lastAttempt === undefined ? 'The task failed.' : attemptFailure(task.lastAttempt.exit, task.lastAttempt.timedOut), lastTransitionTime: ended }
      : task.phase === 'cancelled'
        ? { type: 'Completed', status: 'False', reason: 'Cancelled', message: 'The task was cancelled.', lastTransitionTime: ended }
        : { type: 'Completed', status: 'Unknown', lastTransitionTime: started }
  return [completed, { type: 'Started', status: task.startedAt === undefined ? 'Unknown' : 'True', lastTransitionTime: started }]
}

/** The v1 Task for `task` of `execution` (the execution's resource as just built). */
export function taskResource (execution: V1Execution, task: TaskRecord, logUri: string): V1Task {
  const name = taskName(execution.metadata.name, task.index)
  const { metadata } = execution
  const resource: V1Task = {
    apiVersion: API_VERSION,
    kind: 'Task',
    metadata: {
      name,
      namespace: metadata.namespace,
      uid: task.uid,
      generation: 1,
      resourceVersion: metadata.resourceVersion,
      creationTimestamp: metadata.creationTimestamp,
      selfLink: selfLink(metadata.namespace, 'tasks', name),
      labels: {
        ...metadata.labels,
        [EXECUTION_LABEL]: metadata.name,
        [EXECUTION_UID_LABEL]: metadata.uid,
        [RUNNING_STATE_LABEL]: runningStates[task.phase]
      },
      ...(metadata.annotations !== undefined && { annotations: metadata.annotations }),
      ownerReferences: [{ apiVersion: API_VERSION, kind: 'Execution', name: metadata.name, uid: metadata.uid, controller: true, blockOwnerDeletion: true }]
    },
    spec: execution.spec.template.spec,
    status: {
      observedGeneration: 1,
      conditions: conditions(task, metadata.creationTimestamp),
      ...withoutZeros({ index: task.index, retried: task.attempt }),
      logUri
    }
  }
  if (task.startedAt !== undefined) resource.status.startTime = task.startedAt.toISOString()
  if (task.endedAt !== undefined) resource.status.completionTime = task.endedAt.toISOString()
  if (task.lastAttempt !== undefined) resource.status.lastAttemptResult = attemptResult(task.lastAttempt)
  return resource
}
