import { spawn, type ChildProcess } from 'node:child_process'
import type { Readable } from 'node:stream'

export type OutputStream = 'stdout' | 'stderr'

export interface TaskProcessSpec {
  command: string[]
  /** The whole environment of the process (nothing is inherited). */
  env: Record<string, string>
  onLine: (stream: OutputStream, line: string) => void
}

export interface TaskExit {
  code: number | null
  signal: NodeJS.Signals | null
  /** Set when the process could not be started at all (e.g. the command does not exist). */
  error?: string
}

export interface TaskProcess {
  /** Undefined when the process could not be started. */
  readonly pid: number | undefined
  /** Resolves once the process has ended and all its output lines were delivered. */
  readonly exited: Promise<TaskExit>
  /** SIGTERM, then SIGKILL when it is still alive after the grace period. Idempotent. */
  stop: () => void
}

/** Every task process alive in this Node process, so none outlives it (see killAllNow). */
const liveChildren = new Set<ChildProcess>()
let exitHookInstalled = false

function signalGroup (child: ChildProcess, signal: NodeJS.Signals): void {
  // Tasks lead their own process group, so whatever they spawned goes down with them.
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal)
  } catch {
    child.kill(signal)
  }
}

/** Kills every task process synchronously: the last resort when the Node process exits. */
export function killAllNow (): void {
  for (const child of liveChildren) signalGroup(child, 'SIGKILL')
}

function splitLines (stream: Readable, onLine: (line: string) => void): Promise<void> {
  let pending = ''
  stream.setEncoding('utf8')
  stream.on('data', (chunk: string) => {
    pending += chunk
    let newline
    while ((newline = pending.indexOf('\n')) >= 0) {
      onLine(pending.slice(0, newline).replace(/\r$/, ''))
      pending = pending.slice(newline + 1)
    }
  })
  return new Promise(resolve => stream.once('close', () => {
    if (pending !== '') onLine(pending)
    resolve()
  }))
}

/**
 * The emulator's own `sleep SECONDS`, run as a timer rather than a process: a benchmark's thousands of short runs
 * then measure jobgate, not process start-up (one spawn costs about 60 ms of CPU on a loaded 2-core machine).
 */
export const BUILT_IN_SLEEP = 'emulator:sleep'

function sleepTask (seconds: number): TaskProcess {
  let stop: () => void = () => {}
  const exited = new Promise<TaskExit>(resolve => {
    const timer = setTimeout(() => { resolve({ code: 0, signal: null }) }, Math.max(0, seconds) * 1000)
    stop = () => { clearTimeout(timer); resolve({ code: null, signal: 'SIGTERM' }) }
  })
  return { pid: undefined, exited, stop: () => { stop() } }
}

/** Starts task commands as child processes (or the built-in sleep) and stops them on request. */
export class Runner {
  readonly #mine = new Set<TaskProcess>()

  readonly #killGraceMs: number

  constructor (killGraceMs: number) {
    this.#killGraceMs = killGraceMs
    if (!exitHookInstalled) {
      process.once('exit', killAllNow)
      exitHookInstalled = true
    }
  }

  get running (): number {
    return this.#mine.size
  }

  start (spec: TaskProcessSpec): TaskProcess {
    const [file, ...args] = spec.command
    if (file === undefined) throw new RangeError('a task needs a command')
    if (file === BUILT_IN_SLEEP) return this.#track(sleepTask(Number(args[0] ?? '0')))
    const child = spawn(file, args, { env: spec.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    let killTimer: NodeJS.Timeout | undefined
    const outputDone = Promise.all([
      splitLines(child.stdout as Readable, line => spec.onLine('stdout', line)),
      splitLines(child.stderr as Readable, line => spec.onLine('stderr', line))
    ])
    const exited = new Promise<TaskExit>(resolve => {
      child.on('error', error => {
        // Only a failure to start ends the task here; later errors (e.g. a failed kill) are followed by 'close'.
        if (child.pid === undefined) resolve({ code: null, signal: null, error: error.message })
      })
      child.once('close', (code, signal) => resolve({ code, signal }))
    }).then(async exit => {
      if (exit.error === undefined) await outputDone
      clearTimeout(killTimer)
      liveChildren.delete(child)
      return exit
    })
    let stopping = false
    const task: TaskProcess = {
      pid: child.pid,
      exited,
      stop: () => {
        if (stopping || !liveChildren.has(child)) return
        stopping = true
        signalGroup(child, 'SIGTERM')
        killTimer = setTimeout(() => signalGroup(child, 'SIGKILL'), this.#killGraceMs)
      }
    }
    if (child.pid !== undefined) liveChildren.add(child)
    return this.#track(task)
  }

  #track (task: TaskProcess): TaskProcess {
    this.#mine.add(task)
    void task.exited.then(() => { this.#mine.delete(task) })
    return task
  }

  /** Stops every process this runner started and waits until they are gone. */
  async stopAll (): Promise<void> {
    const tasks = [...this.#mine]
    for (const task of tasks) task.stop()
    await Promise.all(tasks.map(task => task.exited))
  }
}
