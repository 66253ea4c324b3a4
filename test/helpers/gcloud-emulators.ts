/**
 * Starts the real gcloud emulators (Firestore, Pub/Sub) on a free loopback port for a test file.
 *
 * `gcloud` is a Python wrapper that spawns java; both live in one process group (we spawn
 * detached), so stopping kills the whole group and waits until no member is left alive.
 * A watchdog shell kills the group if the test process dies without stopping it (crash, timeout, SIGKILL).
 * Linux only: liveness is read from /proc.
 */
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { freePort } from '../../common/free-port.js'
import { setTimeout as sleep } from 'node:timers/promises'

export type EmulatorKind = 'firestore' | 'pubsub'

export interface RunningEmulator {
  kind: EmulatorKind
  /** `127.0.0.1:PORT` */
  hostPort: string
  /** `{ FIRESTORE_EMULATOR_HOST }` or `{ PUBSUB_EMULATOR_HOST }` set to hostPort. */
  env: Record<string, string>
  /** Process group id of the gcloud wrapper and its java child. */
  pgid: number
  /** Milliseconds from spawn until the HTTP port answered. */
  startupMs: number
  /** Kills the whole process group; resolves once none of its processes is alive. Idempotent. */
  stop: () => Promise<void>
}

/** The subset of a tap test this helper needs, so the teardown is registered even when a test fails. */
export interface TeardownHost {
  teardown: (fn: () => unknown) => void
}

export interface StartOptions {
  /** How long to wait for the port to answer (a cold JVM on a busy 2-core machine is slow). */
  readyTimeoutMs?: number
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

/** Starts one emulator and registers its stop() as a teardown of `t`; retries on a lost port race. */
export async function startEmulator (kind: EmulatorKind, t: TeardownHost, options: StartOptions = {}): Promise<RunningEmulator> {
  const attempts = 3
  for (let attempt = 1; ; attempt++) {
    try {
      const emulator = await spawnEmulator(kind, await freePort(), options.readyTimeoutMs ?? 60_000)
      t.teardown(emulator.stop)
      return emulator
    } catch (err) {
      if (attempt >= attempts) throw err
    }
  }
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

async function spawnEmulator (kind: EmulatorKind, port: number, readyTimeoutMs: number): Promise<RunningEmulator> {
  const hostPort = `127.0.0.1:${port}`
  const started = performance.now()
  const child = spawn('gcloud', [...commandOf[kind], `--host-port=${hostPort}`, '--quiet'], {
    detached: true, // own process group, so java dies with the wrapper
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let exited = false
  child.once('exit', () => { exited = true })
  child.once('error', () => { exited = true }) // e.g. gcloud not installed: no pid, reported below
  const pgid = child.pid
  if (pgid === undefined) throw new Error(`could not spawn gcloud for the ${kind} emulator (is the Google Cloud CLI installed?)`)
  const watchdog = startWatchdog(pgid)

  let output = ''
  const keep = (chunk: Buffer): void => { output = (output + chunk.toString()).slice(-4000) }
  child.stdout.on('data', keep)
  child.stderr.on('data', keep)

  let stopping: Promise<void> | undefined
  const stop = async (): Promise<void> => {
    stopping ??= stopGroup(pgid).finally(() => killGroup(watchdog, 'SIGKILL'))
    await stopping
  }

  try {
    await waitUntilAnswering(hostPort, readyTimeoutMs, () => exited)
  } catch (err) {
    await stop()
    throw new Error(`the ${kind} emulator did not start on ${hostPort}: ${(err as Error).message}\n${output}`, { cause: err })
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

/** A detached shell that kills group `pgid` once this process is gone; returns its own group id. */
function startWatchdog (pgid: number): number {
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -KILL -${pgid} 2>/dev/null`
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
