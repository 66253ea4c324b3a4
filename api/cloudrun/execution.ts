import type { ExecutionProgress } from '../../common/execution-status.js'

/** The parts of Cloud Run Admin API v1 objects that jobgate reads and writes. */

export interface EnvVar { name: string, value: string }

export interface ContainerOverride {
  name?: string
  args?: string[]
  env?: EnvVar[]
  clearArgs?: boolean
}

export interface Overrides {
  containerOverrides?: ContainerOverride[]
  taskCount?: number
  timeoutSeconds?: number
}

export interface RunJobRequest {
  overrides?: Overrides
}

export interface Condition {
  type?: string
  status?: string
  reason?: string
  message?: string
  lastTransitionTime?: string
}

export interface Execution {
  metadata?: {
    name?: string
    namespace?: string
    creationTimestamp?: string
    labels?: Record<string, string>
  }
  spec?: {
    taskCount?: number
    parallelism?: number
    /** The task template as run: the job's containers with the run's overrides applied. */
    template?: { spec?: { containers?: Array<{ name?: string, env?: Array<{ name: string, value?: string }> }> } }
  }
  status?: ExecutionProgress & {
    conditions?: Condition[]
    logUri?: string
  }
}

export interface ExecutionList {
  items?: Execution[]
  metadata?: { continue?: string }
}

export const JOB_LABEL = 'run.googleapis.com/job'

/** What Cloud Run v1 says of one task of an execution (namespaces.tasks). */
export interface Task {
  metadata?: { name?: string, labels?: Record<string, string> }
  status?: {
    index?: number
    retried?: number
    startTime?: string
    completionTime?: string
    conditions?: Condition[]
    lastAttemptResult?: { exitCode?: number, termSignal?: number, status?: { code?: number, message?: string } }
    logUri?: string
  }
}

export interface TaskList {
  items?: Task[]
  metadata?: { continue?: string }
}

/** The labels Cloud Run puts on a task: its execution, and its state. */
export const EXECUTION_LABEL = 'run.googleapis.com/execution'
export const RUNNING_STATE_LABEL = 'run.googleapis.com/runningState'
