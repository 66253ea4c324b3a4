/**
 * The real gcloud emulators (Firestore, Pub/Sub) on a free loopback port, for test files.
 *
 * Under `tap` each emulator is started at most once per run and shared by every test file (a JVM
 * start costs seconds of CPU on a loaded machine): the first file that asks starts it, and it ends
 * with the run. Files keep apart by project: each gets a `project` of its own. A file run without tap
 * (or a process a test spawned) gets a private emulator, stopped at its teardown.
 *
 * `gcloud` is a Python wrapper that spawns java; both live in one process group (we spawn
 * detached), so stopping kills the whole group and waits until no member is left alive.
 * A watchdog shell kills the group once its owner dies without stopping it (crash, timeout,
 * SIGKILL): the test process for a private emulator, the tap runner for a shared one.
 * Linux only: liveness is read from /proc.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../../common/free-port.js'
import { setTimeout as sleep } from 'node:timers/promises'
import { currentTapRun, sharedInRun, type TapRun } from './tap-run-share.js'

export type EmulatorKind = 'firestore' | 'pubsub'

export interface RunningEmulator {
  kind: EmulatorKind
  /** `127.0.0.1:PORT` */
  hostPort: string
  /** `{ FIRESTORE_EMULATOR_HOST }` or `{ PUBSUB_EMULATOR_HOST }` set to hostPort. */
  env: Record<string, string>
  /** A project id no other test file uses: the emulator is shared, and clearFirestore wipes a whole project. */
  project: string
  /** Shared by the tap run's files (it ends with the run), or this file's own. */
  shared: boolean
  /** Process group id of the gcloud wrapper and its java child. */
  pgid: number
  /** Milliseconds from spawn until the HTTP port answered (by the file that started it). */
  startupMs: number
  /**
   * This file's own emulator: kills the whole process group, resolves once none of its processes is alive. Idempotent.
   * A shared one refuses: other files use it (start with `shared: false` to test an emulator going away).
   */
  stop: () => Promise<void>
}

/** The subset of a tap test this helper needs, so the teardown is registered even when a test fails. */
export interface TeardownHost {
  teardown: (fn: () => unknown) => void
}

export interface StartOptions {
  /** How long to wait for the port to answer (a cold JVM on a busy 2-core machine is slow). */
  readyTimeoutMs?: number
  /** Default: shared under tap. false: this file's own, e.g. to test stopping it. */
  shared?: boolean
}

const commandOf: Record<EmulatorKind, string[]> = {
  firestore: ['emulators', 'firestore', 'start'],
  pubsub: ['beta', 'emulators', 'pubsub', 'start']
}

const envNameOf: Record<EmulatorKind, string> = {
  firestore: 'FIRESTORE_EMULATOR_HOST',
  pubsub: 'PUBSUB_EMULATOR_HOST'
}

export async function startFirestoreEmulator (t: TeardownHost, options?: StartOptions): Promise<RunningEmulator> {
  return await startEmulator('firestore', t, options)
}

export async function startPubsubEmulator (t: TeardownHost, options?: StartOptions): Promise<RunningEmulator> {
  return await startEmulator('pubsub', t, options)
}

const ATTEMPTS = 3

/** The run's shared emulator of `kind`, or (outside tap, or `shared: false`) one of this file's own, stopped at `t`'s teardown. */
export async function startEmulator (kind: EmulatorKind, t: TeardownHost, options: StartOptions = {}): Promise<RunningEmulator> {
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000
  const run = options.shared === false ? undefined : currentTapRun()
  const project = `jobgate-${randomBytes(4).toString('hex')}`
  if (run === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'jobgate-emulator-'))
    const emulator = await startWithRetries(kind, readyTimeoutMs, { pid: process.pid, dir })
      .catch((err: unknown) => { rmSync(dir, { recursive: true, force: true }); throw err })
    const stop = async (): Promise<void> => { await emulator.stop().finally(() => { rmSync(dir, { recursive: true, force: true }) }) }
    t.teardown(stop)
    return { ...emulator, project, shared: false, stop }
  }
  const where = await sharedInRun(run, `${kind}-emulator`, async () => await startShared(kind, readyTimeoutMs, run), readyTimeoutMs * ATTEMPTS + 30_000)
  const stop = async (): Promise<void> => {
    throw new Error(`the ${kind} emulator is shared by this run's test files: start it with { shared: false } to stop it`)
  }
  return { kind, ...where, env: { [envNameOf[kind]]: where.hostPort }, project, shared: true, stop }
}

type Started = Omit<RunningEmulator, 'project' | 'shared'>

/** Whose the emulator is: the group dies with process `pid`, and `dir` (its log) goes with it. */
interface Owner { pid: number, dir: string }

/** Retries on a lost port race. */
async function startWithRetries (kind: EmulatorKind, readyTimeoutMs: number, owner: Owner): Promise<Started> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await spawnEmulator(kind, await freePort(), readyTimeoutMs, owner)
    } catch (err) {
      if (attempt >= ATTEMPTS) throw err
    }
  }
}

/** Starts the run's emulator, owned by the tap runner: it outlives this file and dies with the run (the run's records with it). */
async function startShared (kind: EmulatorKind, readyTimeoutMs: number, run: TapRun): Promise<Pick<Started, 'hostPort' | 'pgid' | 'startupMs'>> {
  const { hostPort, pgid, startupMs } = await startWithRetries(kind, readyTimeoutMs, { pid: run.runnerPid, dir: run.dir })
  return { hostPort, pgid, startupMs }
}

/** Deletes every document of the Firestore emulator's default database of `projectId`. */
export async function clearFirestore (hostPort: string, projectId: string): Promise<void> {
  const res = await fetch(`http://${hostPort}/emulator/v1/projects/${projectId}/databases/(default)/documents`, { method: 'DELETE' })
  if (!res.ok) throw new Error(`clearing the Firestore emulator failed: HTTP ${res.status} ${await res.text()}`)
}

/** Pids of processes in group `pgid` that are still alive (zombies, already dead, are not counted). */
export function livingProcessesInGroup (pgid: number): number[] {
  const living: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let stat: string
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
    } catch {
      continue // the process ended while we looked
    }
    // Format: "pid (comm) state ppid pgrp ..."; comm may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    if (Number(fields[2]) === pgid && fields[0] !== 'Z') living.push(Number(entry))
  }
  return living
}

async function spawnEmulator (kind: EmulatorKind, port: number, readyTimeoutMs: number, owner: Owner): Promise<Started> {
  const hostPort = `127.0.0.1:${port}`
  const started = performance.now()
  // Its output goes to a file, not to pipes of this process, so a shared emulator outlives the file that started it.
  const log = join(owner.dir, `${kind}-${port}.log`)
  const out = openSync(log, 'a')
  const child = spawn('gcloud', [...commandOf[kind], `--host-port=${hostPort}`, '--quiet'], {
    detached: true, // own process group, so java dies with the wrapper
    stdio: ['ignore', out, out]
  })
  closeSync(out)
  child.unref()
  let exited = false
  child.once('exit', () => { exited = true })
  child.once('error', () => { exited = true }) // e.g. gcloud not installed: no pid, reported below
  const pgid = child.pid
  if (pgid === undefined) throw new Error(`could not spawn gcloud for the ${kind} emulator (is the Google Cloud CLI installed?)`)
  const watchdog = startWatchdog(pgid, owner)
  const output = (): string => { try { return readFileSync(log, 'utf8').slice(-4000) } catch { return '' } }

  let stopping: Promise<void> | undefined
  const stop = async (): Promise<void> => {
    stopping ??= stopGroup(pgid).finally(() => killGroup(watchdog, 'SIGKILL'))
    await stopping
  }

  try {
    await waitUntilAnswering(hostPort, readyTimeoutMs, () => exited)
  } catch (err) {
    await stop()
    throw new Error(`the ${kind} emulator did not start on ${hostPort}: ${(err as Error).message}\n${output()}`, { cause: err })
  }
  return { kind, hostPort, env: { [envNameOf[kind]]: hostPort }, pgid, startupMs: Math.round(performance.now() - started), stop }
}

async function waitUntilAnswering (hostPort: string, timeoutMs: number, hasExited: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (hasExited()) throw new Error('gcloud exited early')
    try {
      const res = await fetch(`http://${hostPort}/`, { signal: AbortSignal.timeout(1000) })
      await res.arrayBuffer()
      if (res.ok) return
    } catch {
      // not listening yet
    }
    await sleep(100)
  }
  throw new Error(`no answer within ${timeoutMs} ms`)
}

async function stopGroup (pgid: number): Promise<void> {
  killGroup(pgid, 'SIGTERM')
  if (!await groupGone(pgid, 5000)) {
    killGroup(pgid, 'SIGKILL')
    if (!await groupGone(pgid, 5000)) throw new Error(`processes ${livingProcessesInGroup(pgid).join(', ')} of group ${pgid} survived SIGKILL`)
  }
}

/** A detached shell that kills group `pgid` and removes the owner's dir once the owner is gone; returns its own group id. */
function startWatchdog (pgid: number, owner: Owner): number {
  const script = `while kill -0 ${owner.pid} 2>/dev/null; do sleep 1; done; kill -KILL -${pgid} 2>/dev/null; rm -rf '${owner.dir}'`
  const watchdog = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' })
  watchdog.on('error', () => {}) // reported below as a missing pid
  watchdog.unref()
  if (watchdog.pid === undefined) {
    killGroup(pgid, 'SIGKILL')
    throw new Error('could not spawn the watchdog shell')
  }
  return watchdog.pid
}

function killGroup (pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal)
  } catch {
    // ESRCH: the group is already gone
  }
}

async function groupGone (pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (livingProcessesInGroup(pgid).length > 0) {
    if (Date.now() >= deadline) return false
    await sleep(50)
  }
  return true
}
