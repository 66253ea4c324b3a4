/**
 * One thing per `tap` run, shared by all its test files (processes): the first file that asks starts it,
 * the others read where it is. Files of one run are the tap runner's direct children; the runner is
 * the run's lifetime, so whatever is shared must die with it (see the caller's watchdog). Linux (/proc).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

export interface TapRun {
  /** Unique per run: the runner's pid and start time. */
  id: string
  /** The tap runner: the run lasts as long as it does. */
  runnerPid: number
  /** Where the run's shared records live; removed when the run ends. */
  dir: string
}

/** The run this process is a test file of; undefined outside tap, or in a process a test file spawned. */
export function currentTapRun (env: NodeJS.ProcessEnv = process.env): TapRun | undefined {
  // @tapjs/processinfo makes each test file the root of its process tree: a process a file spawned has a parent of its own.
  const root = env._TAPJS_PROCESSINFO_ROOT_
  if (env.TAP_CHILD_ID === undefined || root === undefined || env._TAPJS_PROCESSINFO_PARENT_ !== root) return undefined
  const runnerPid = process.ppid
  const id = `${runnerPid}-${startTimeOf(runnerPid)}`
  return { id, runnerPid, dir: join(tmpdir(), `jobgate-tap-run-${id}`) }
}

/** A process's start time in clock ticks since boot (/proc): with its pid, a name no later process reuses. */
function startTimeOf (pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '0'
}

type Record<T> = { value: T } | { error: string }

/**
 * The run's one `name`: started here by `start` when this process is the first to ask (it must outlive this
 * process and end with the run), else read from the first process's record, waiting up to `waitMs` for it.
 */
export async function sharedInRun<T> (run: TapRun, name: string, start: () => Promise<T>, waitMs: number): Promise<T> {
  mkdirSync(run.dir, { recursive: true })
  const record = join(run.dir, `${name}.json`)
  if (claim(join(run.dir, `${name}.lock`))) {
    const written = (entry: Record<T>): void => {
      writeFileSync(`${record}.tmp`, JSON.stringify(entry))
      renameSync(`${record}.tmp`, record) // readers never see half a record
    }
    try {
      const value = await start()
      written({ value })
      return value
    } catch (err) {
      written({ error: (err as Error).message })
      throw err
    }
  }
  const deadline = Date.now() + waitMs
  for (;;) {
    const entry = readRecord<T>(record)
    if (entry !== undefined && 'value' in entry) return entry.value
    if (entry !== undefined) throw new Error(`the run's shared ${name} failed to start in another test file: ${entry.error}`)
    if (Date.now() > deadline) throw new Error(`the run's shared ${name} was not ready within ${waitMs} ms (started by another test file)`)
    await sleep(100)
  }
}

/** Creates `path` unless it exists: exactly one process of the run wins. */
function claim (path: string): boolean {
  try {
    writeFileSync(path, String(process.pid), { flag: 'wx' })
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  }
}

function readRecord<T> (path: string): Record<T> | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<T>
  } catch {
    return undefined // not written yet
  }
}
