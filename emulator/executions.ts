import { randomInt, randomUUID } from 'node:crypto'
import { GoogleError } from './errors.js'
import { selfLink, taskSpecOf, type JobRecord } from './jobs.js'
import type { LogStore } from './logs.js'
import type { ExecutionTemplate } from './overrides.js'
import {
  API_VERSION, CREATOR_ANNOTATION, executionLogUri, JOB_LABEL, JOB_UID_LABEL, LOCATION_LABEL, withoutZeros,
  type ConditionStatus, type V1Condition, type V1Execution, type V1ExecutionReference, type V1Task
} from './resources.js'
import type { Runner, TaskExit, TaskProcess } from './runner.js'
import { attemptFailure, taskName, taskResource, type TaskPhase, type TaskRecord } from './tasks.js'

/**
 * One execution of a job, run the way Cloud Run runs it:
 * - `taskCount` tasks, at most `parallelism` at once (0 = all at once), each a child process with
 *   CLOUD_RUN_JOB, CLOUD_RUN_EXECUTION, CLOUD_RUN_TASK_INDEX, CLOUD_RUN_TASK_COUNT, CLOUD_RUN_TASK_ATTEMPT;
 * - a failed attempt (non-zero exit, killed, or past `timeoutSeconds`) is retried up to `maxRetries`
 *   times; a task that exhausts them is failed, and the other tasks still run to the end;
 * - conditions: `ResourcesAvailable` and `Started` turn True when the first task starts;
 *   `Completed` stays Unknown while tasks run, then is True when every task succeeded, or False
 *   with reason `NonZeroExitCode` when any failed;
 * - cancel: pending tasks are cancelled, running ones get SIGTERM (SIGKILL after the grace period);
 *   once they are gone the execution ends with `Completed` False, reason `Cancelled`
 *   (what Cloud Run reports; jobgate maps exactly this to CANCELLED) and `cancelledCount` set.
 */

/** A task as the execution schedules it: its v1 record, and the process of its running attempt. */
interface TaskState extends TaskRecord {
  timedOut: boolean
  process?: TaskProcess
  timer?: NodeJS.Timeout
}

export type Outcome = 'succeeded' | 'failed' | 'cancelled'

export interface ExecutionContext {
  runner: Runner
  logs: LogStore
  log: (line: string) => void
  projectNumber: string
  /** Who started the execution (its creator annotation). */
  caller: string
  /** Whether `status.logUri` links to the Cloud Console. */
  consoleLogLinks: boolean
}

const conditionTypes = ['Completed', 'ResourcesAvailable', 'Started'] as const
type ConditionType = typeof conditionTypes[number]

export class ExecutionRun {
  readonly uid = randomUUID()
  readonly createdAt = new Date()
  startTime?: Date
  completionTime?: Date
  outcome?: Outcome
  readonly #tasks: TaskState[]
  readonly #conditions = new Map<ConditionType, V1Condition>()
  #cancelRequested = false
  #closed = false
  #version = 1
  #finished!: () => void
  /** Resolves when the execution has ended (succeeded, failed or cancelled). */
  readonly done = new Promise<void>(resolve => { this.#finished = resolve })

  readonly #context: ExecutionContext

  constructor (
    readonly name: string,
    readonly job: Pick<JobRecord, 'project' | 'region' | 'name' | 'uid'>,
    readonly template: ExecutionTemplate,
    context: ExecutionContext
  ) {
    this.#context = context
    this.#tasks = Array.from({ length: template.taskCount }, (_, index) => ({ index, uid: randomUUID(), phase: 'pending', attempt: 0, timedOut: false }))
    for (const type of conditionTypes) this.#setCondition(type, 'Unknown')
  }

  /** Starts the tasks on the next turn, so the `:run` answer shows the execution as just created. */
  start (): void {
    setImmediate(() => this.#pump())
  }

  #count (phase: TaskPhase): number {
    return this.#tasks.filter(task => task.phase === phase).length
  }

  #setCondition (type: ConditionType, status: ConditionStatus, reason?: string, message?: string): void {
    const previous = this.#conditions.get(type)
    const condition: V1Condition = {
      type,
      status,
      lastTransitionTime: previous?.status === status ? previous.lastTransitionTime : new Date().toISOString()
    }
    if (reason !== undefined) condition.reason = reason
    if (message !== undefined) condition.message = message
    this.#conditions.set(type, condition)
    this.#version++
  }

  #pump (): void {
    if (this.#closed || this.#cancelRequested || this.outcome) return
    const limit = this.template.parallelism > 0 ? this.template.parallelism : this.template.taskCount
    let next: TaskState | undefined
    while (this.#count('running') < limit && (next = this.#tasks.find(task => task.phase === 'pending'))) this.#launch(next)
    if (this.#count('running') === 0 && this.#count('pending') === 0) this.#finish()
  }

  #envFor (task: TaskState): Record<string, string> {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin' }
    for (const { name, value } of this.template.env) env[name] = value ?? ''
    return {
      ...env,
      CLOUD_RUN_JOB: this.job.name,
      CLOUD_RUN_EXECUTION: this.name,
      CLOUD_RUN_TASK_INDEX: String(task.index),
      CLOUD_RUN_TASK_COUNT: String(this.template.taskCount),
      CLOUD_RUN_TASK_ATTEMPT: String(task.attempt)
    }
  }

  #launch (task: TaskState): void {
    task.phase = 'running'
    task.timedOut = false
    task.startedAt ??= new Date()
    if (this.startTime === undefined) {
      this.startTime = new Date()
      this.#setCondition('ResourcesAvailable', 'True')
      this.#setCondition('Started', 'True')
    }
    this.#version++
    const attempt = task.attempt
    const source = {
      project: this.job.project,
      region: this.job.region,
      job: this.job.name,
      execution: this.name,
      taskIndex: task.index,
      taskAttempt: attempt
    }
    let started: TaskProcess | undefined
    let startError: string | undefined
    try {
      started = this.#context.runner.start({
        command: [...this.template.command, ...this.template.args],
        env: this.#envFor(task),
        onLine: (stream, line) => this.#context.logs.add(source, stream, line)
      })
    } catch (error) {
      startError = (error as Error).message
    }
    if (started === undefined) {
      // spawn() refused synchronously (e.g. a NUL byte in an env value): the attempt failed to start.
      setImmediate(() => this.#attemptEnded(task, { code: null, signal: null, error: startError }))
      return
    }
    const running = started
    task.process = running
    task.timer = setTimeout(() => {
      task.timedOut = true
      this.#context.log(`${this.name}: task ${task.index} attempt ${attempt} passed its ${this.template.timeoutSeconds}s timeout, stopping it`)
      running.stop()
    }, this.template.timeoutSeconds * 1000)
    this.#context.log(`${this.name}: task ${task.index} attempt ${attempt} started (pid ${running.pid ?? 'none'})`)
    void running.exited.then(exit => this.#attemptEnded(task, exit))
  }

  #attemptEnded (task: TaskState, exit: TaskExit): void {
    clearTimeout(task.timer)
    delete task.process
    const succeeded = exit.code === 0 && !task.timedOut
    task.lastAttempt = { exit, timedOut: task.timedOut }
    this.#context.log(`${this.name}: task ${task.index} attempt ${task.attempt} ended (code ${exit.code}, signal ${exit.signal}${task.timedOut ? ', timed out' : ''}${exit.error ? `, ${exit.error}` : ''})`)
    if (succeeded) {
      task.phase = 'succeeded'
    } else if (this.#cancelRequested || this.#closed) {
      task.phase = 'cancelled'
    } else if (task.attempt < this.template.maxRetries) {
      task.attempt++
      task.phase = 'pending'
    } else {
      task.phase = 'failed'
    }
    if (task.phase !== 'pending') task.endedAt = new Date()
    this.#version++
    if (this.#cancelRequested || this.#closed) this.#settleCancel()
    else this.#pump()
  }

  #finish (): void {
    this.completionTime = new Date()
    const failed = this.#tasks.filter(task => task.phase === 'failed')
    const first = failed[0]
    if (this.#cancelRequested || this.#closed) {
      this.outcome = 'cancelled'
      this.#setCondition('Completed', 'False', 'Cancelled', this.#cancelRequested ? 'The execution was cancelled.' : 'The emulator closed before the execution ended.')
    } else if (first) {
      this.outcome = 'failed'
      const others = failed.length > 1 ? ` (${failed.length} of ${this.#tasks.length} tasks failed)` : ''
      const why = first.lastAttempt === undefined ? 'unknown' : attemptFailure(first.lastAttempt.exit, first.lastAttempt.timedOut)
      this.#setCondition('Completed', 'False', 'NonZeroExitCode', `Task ${taskName(this.name, first.index)} failed with message: ${why}.${others}`)
    } else {
      this.outcome = 'succeeded'
      const seconds = Math.round((this.completionTime.getTime() - (this.startTime ?? this.createdAt).getTime()) / 1000)
      this.#setCondition('Completed', 'True', undefined, `Execution completed successfully in ${seconds}s.`)
    }
    this.#context.log(`${this.name}: ${this.outcome}`)
    this.#finished()
  }

  #cancelPending (task: TaskState): void {
    task.phase = 'cancelled'
    task.endedAt = new Date()
  }

  #settleCancel (): void {
    if (!this.outcome && this.#count('running') === 0) this.#finish()
  }

  /** Cancels the execution and resolves once its tasks are gone; a finished one is a FAILED_PRECONDITION. */
  async cancel (): Promise<void> {
    if (this.outcome) throw new GoogleError('FAILED_PRECONDITION', `Execution '${this.name}' has already completed and cannot be cancelled.`)
    if (!this.#cancelRequested) {
      this.#cancelRequested = true
      for (const task of this.#tasks) {
        if (task.phase === 'pending') this.#cancelPending(task)
        task.process?.stop()
      }
      this.#setCondition('Completed', 'Unknown', 'Cancelling', 'The execution is being cancelled.')
      this.#settleCancel()
    }
    await this.done
  }

  /** Stops scheduling (the emulator is closing): the runner kills the processes, then the execution ends as cancelled. */
  close (): void {
    this.#closed = true
    for (const task of this.#tasks) {
      clearTimeout(task.timer)
      if (task.phase === 'pending') this.#cancelPending(task)
    }
    this.#settleCancel()
  }

  get completionStatus (): V1ExecutionReference['completionStatus'] {
    if (this.outcome === 'succeeded') return 'EXECUTION_SUCCEEDED'
    if (this.outcome === 'failed') return 'EXECUTION_FAILED'
    if (this.outcome === 'cancelled') return 'EXECUTION_CANCELLED'
    return this.startTime ? 'EXECUTION_RUNNING' : 'EXECUTION_PENDING'
  }

  /** The execution's v1 Tasks, by index. */
  tasks (): V1Task[] {
    const execution = this.resource()
    const { project, region, name: job } = this.job
    return this.#tasks.map(task => taskResource(execution, task, executionLogUri(project, job, region, this.name, task.index)))
  }

  reference (): V1ExecutionReference {
    const reference: V1ExecutionReference = {
      name: this.name,
      creationTimestamp: this.createdAt.toISOString(),
      completionStatus: this.completionStatus
    }
    if (this.completionTime) reference.completionTimestamp = this.completionTime.toISOString()
    return reference
  }

  /** The execution's labels, what a list's labelSelector picks by: cheaper than building the whole resource. */
  labels (): Record<string, string> {
    const { region, name: job, uid: jobUid } = this.job
    return { ...this.template.templateLabels, [LOCATION_LABEL]: region, [JOB_LABEL]: job, [JOB_UID_LABEL]: jobUid }
  }

  resource (): V1Execution {
    const { project, region, name: job, uid: jobUid } = this.job
    const execution: V1Execution = {
      apiVersion: API_VERSION,
      kind: 'Execution',
      metadata: {
        name: this.name,
        namespace: this.#context.projectNumber,
        uid: this.uid,
        generation: 1,
        resourceVersion: String(this.#version),
        creationTimestamp: this.createdAt.toISOString(),
        selfLink: selfLink(this.#context.projectNumber, 'executions', this.name),
        // The job's template metadata, then what Cloud Run sets on every execution.
        labels: this.labels(),
        annotations: { ...this.template.templateAnnotations, [CREATOR_ANNOTATION]: this.#context.caller },
        ownerReferences: [{ apiVersion: API_VERSION, kind: 'Job', name: job, uid: jobUid, controller: true, blockOwnerDeletion: true }]
      },
      spec: {
        ...withoutZeros({ taskCount: this.template.taskCount, parallelism: this.template.parallelism }),
        template: { spec: taskSpecOf(this.template) }
      },
      status: {
        observedGeneration: 1,
        conditions: conditionTypes.map(type => this.#conditions.get(type) as V1Condition),
        ...withoutZeros({
          runningCount: this.#count('running'),
          succeededCount: this.#count('succeeded'),
          failedCount: this.#count('failed'),
          cancelledCount: this.#count('cancelled'),
          retriedCount: this.#tasks.filter(task => task.attempt > 0).length
        }),
        ...(this.#context.consoleLogLinks ? { logUri: executionLogUri(project, job, region, this.name) } : {})
      }
    }
    if (this.startTime) execution.status.startTime = this.startTime.toISOString()
    if (this.completionTime) execution.status.completionTime = this.completionTime.toISOString()
    return execution
  }
}

const nameAlphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'

/** `{job}-{5 random lowercase alphanumerics}`, as Cloud Run names executions. */
export function executionName (job: string): string {
  let suffix = ''
  for (let i = 0; i < 5; i++) suffix += nameAlphabet[randomInt(nameAlphabet.length)]
  return `${job}-${suffix}`
}

/** Every execution, newest last; lists are newest first. */
export class ExecutionStore {
  readonly #runs = new Map<string, ExecutionRun>()
  /** The same in creation order: a list pages back from the newest without copying them all. */
  readonly #order: ExecutionRun[] = []

  #key (project: string, name: string): string {
    return `${project}/${name}`
  }

  create (job: JobRecord, template: ExecutionTemplate, context: ExecutionContext): ExecutionRun {
    let name: string
    do name = executionName(job.name)
    while (this.#runs.has(this.#key(job.project, name)))
    const run = new ExecutionRun(name, job, template, context)
    this.#runs.set(this.#key(job.project, name), run)
    this.#order.push(run)
    return run
  }

  get (project: string, name: string): ExecutionRun | undefined {
    return this.#runs.get(this.#key(project, name))
  }

  /** A project's executions (optionally one job's), newest first. */
  list (project?: string, job?: string): ExecutionRun[] {
    return [...this.#runs.values()]
      .filter(run => (project === undefined || run.job.project === project) && (job === undefined || run.job.name === job))
      .reverse()
  }

  /** A project's executions newest first, from the one after `after` when named; undefined when `after` is not one of them. */
  newestFirst (project: string, after?: string): Iterable<ExecutionRun> | undefined {
    const order = this.#order
    const from = after === undefined ? order.length : order.lastIndexOf(this.get(project, after) as ExecutionRun)
    if (from < 0) return undefined
    return (function* () {
      for (let at = from - 1; at >= 0; at--) if (order[at]?.job.project === project) yield order[at] as ExecutionRun
    })()
  }

  delete (run: ExecutionRun): void {
    this.#runs.delete(this.#key(run.job.project, run.name))
    const at = this.#order.lastIndexOf(run)
    if (at >= 0) this.#order.splice(at, 1)
  }

  closeAll (): void {
    for (const run of this.#runs.values()) run.close()
  }
}
