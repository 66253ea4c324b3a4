/**
 * Entry point of the companion job (`node dist/job/main.js`, Dockerfile.job). It prints, as Cloud
 * Logging JSON lines, `{"message":"args","args":[…]}`, `{"message":"env","env":{…secrets redacted}}`
 * and `{"message":"task",job,execution,taskIndex,taskCount,taskAttempt}`, then exits 0.
 * Test knobs (see echo.ts): ECHO_SLEEP_MS (sleep before exiting: timeouts, cancel), ECHO_EXIT_CODE
 * (exit with it: failures), ECHO_FAIL_ATTEMPTS (exit 1 while CLOUD_RUN_TASK_ATTEMPT < N: retries).
 * SIGTERM (Cloud Run's cancel/timeout) is logged as a WARNING and ends the process with 143 (128 + 15).
 */
import { createJobLogger } from './log.js'
import { runEcho } from './echo.js'

const log = createJobLogger()

process.once('SIGTERM', () => {
  log.warn({ signal: 'SIGTERM' }, 'received SIGTERM, stopping')
  process.exit(143)
})

process.exit(await runEcho(process.argv.slice(2), process.env, log))
