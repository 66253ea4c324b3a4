import { setTimeout as sleepFor } from 'node:timers/promises'
import type { Logger } from 'pino'
import { redactEnv } from './redact.js'
import { taskContext } from './task-context.js'

type Env = Record<string, string | undefined>

/**
 * Knobs that make the echo job useful for testing an executor (the emulator, jobgate):
 * - ECHO_SLEEP_MS: sleep this long after echoing, before exiting (timeouts, cancel).
 * - ECHO_EXIT_CODE: exit with this code after echoing (failures).
 * - ECHO_FAIL_ATTEMPTS: exit 1 while CLOUD_RUN_TASK_ATTEMPT < N (retries).
 */
export interface EchoKnobs {
  sleepMs: number
  exitCode: number
  failAttempts: number
}

function knob (env: Env, name: string, max: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return 0
  if (!/^\d+$/.test(raw) || Number(raw) > max) throw new RangeError(`${name} must be an integer in [0, ${max}], got ${JSON.stringify(raw)}`)
  return Number(raw)
}

export function echoKnobs (env: Env): EchoKnobs {
  return {
    sleepMs: knob(env, 'ECHO_SLEEP_MS', 86_400_000),
    exitCode: knob(env, 'ECHO_EXIT_CODE', 255),
    failAttempts: knob(env, 'ECHO_FAIL_ATTEMPTS', 1000)
  }
}

/**
 * The companion job (contract §5): echoes its args, its environment (secrets redacted) and its
 * task context as Cloud Logging JSON lines, then applies the test knobs. Returns the exit code.
 */
export async function runEcho (argv: string[], env: Env, log: Logger, sleep: (ms: number) => Promise<unknown> = sleepFor): Promise<number> {
  log.info({ args: argv }, 'args')
  log.info({ env: redactEnv(env) }, 'env')
  let knobs: EchoKnobs
  let attempt: number
  try {
    const context = taskContext(env)
    log.info(context, 'task')
    attempt = context.taskAttempt
    knobs = echoKnobs(env)
  } catch (error) {
    log.error({ error: (error as Error).message }, 'bad configuration')
    return 2
  }
  if (knobs.sleepMs > 0) {
    log.info({ sleepMs: knobs.sleepMs }, 'sleeping')
    await sleep(knobs.sleepMs)
  }
  if (attempt < knobs.failAttempts) {
    log.error({ taskAttempt: attempt, failAttempts: knobs.failAttempts }, 'failing this attempt on purpose (ECHO_FAIL_ATTEMPTS)')
    return 1
  }
  if (knobs.exitCode !== 0) {
    log.error({ exitCode: knobs.exitCode }, 'exiting with ECHO_EXIT_CODE')
    return knobs.exitCode
  }
  log.info('done')
  return 0
}
