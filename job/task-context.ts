/** What Cloud Run tells a task about itself, through its environment. */
export interface TaskContext {
  /** CLOUD_RUN_JOB; absent when run outside Cloud Run. */
  job?: string
  /** CLOUD_RUN_EXECUTION; absent when run outside Cloud Run. */
  execution?: string
  /** CLOUD_RUN_TASK_INDEX, 0-based; 0 when absent. */
  taskIndex: number
  /** CLOUD_RUN_TASK_COUNT; 1 when absent. */
  taskCount: number
  /** CLOUD_RUN_TASK_ATTEMPT, 0 on the first try; 0 when absent. */
  taskAttempt: number
}

type Env = Record<string, string | undefined>

function integerVariable (env: Env, name: string, fallback: number, min: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (!/^\d+$/.test(raw) || Number(raw) < min || !Number.isSafeInteger(Number(raw))) {
    throw new RangeError(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`)
  }
  return Number(raw)
}

/**
 * The task's context from Cloud Run's variables, with the defaults of a single local run
 * (task 0 of 1, first attempt) when they are absent. Throws a RangeError naming the bad variable.
 */
export function taskContext (env: Env = process.env): TaskContext {
  const taskCount = integerVariable(env, 'CLOUD_RUN_TASK_COUNT', 1, 1)
  const taskIndex = integerVariable(env, 'CLOUD_RUN_TASK_INDEX', 0, 0)
  if (taskIndex >= taskCount) {
    throw new RangeError(`CLOUD_RUN_TASK_INDEX must be below CLOUD_RUN_TASK_COUNT (${taskCount}), got ${taskIndex}`)
  }
  const context: TaskContext = { taskIndex, taskCount, taskAttempt: integerVariable(env, 'CLOUD_RUN_TASK_ATTEMPT', 0, 0) }
  if (env.CLOUD_RUN_JOB) context.job = env.CLOUD_RUN_JOB
  if (env.CLOUD_RUN_EXECUTION) context.execution = env.CLOUD_RUN_EXECUTION
  return context
}
