/**
 * Entry point of the companion job (`node dist/job/main.js`, Dockerfile.job): see echo.ts for
 * what it prints and the ECHO_* test knobs. SIGTERM (Cloud Run's cancel/timeout) is logged as a
 * WARNING and ends the process with 143, the conventional 128 + SIGTERM.
 */
import { createJobLogger } from './log.js'
import { runEcho } from './echo.js'

const log = createJobLogger()

process.once('SIGTERM', () => {
  log.warn({ signal: 'SIGTERM' }, 'received SIGTERM, stopping')
  process.exit(143)
})

process.exit(await runEcho(process.argv.slice(2), process.env, log))
