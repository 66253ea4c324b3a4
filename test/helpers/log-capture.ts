import { Writable } from 'node:stream'
import { pino, type Logger } from 'pino'
import { loggerOptions } from '../../api/plugins/request-log.js'

export interface CapturedLogs {
  /** A pino logger with jobgate's production options, writing into `lines`. */
  logger: Logger
  /** Every line written so far, parsed. */
  lines: any[]
}

/** jobgate's own log output, kept in memory so a test can assert on it (hand `logger` to build(t) as `services.logger`). */
export function captureLogs (level = 'info'): CapturedLogs {
  const lines: any[] = []
  const sink = new Writable({
    write (chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line))
      done()
    }
  })
  return { logger: pino(loggerOptions(level), sink), lines }
}

/**
 * The run audit lines (label `jobgate_audit: "run"`) among captured lines, with their labels also as plain
 * `job`, `principal` and `outcome` fields for counting (test/security/audit.ts checks the line's real shape).
 */
export const auditLines = (lines: any[]): any[] => lines
  .filter(line => line['logging.googleapis.com/labels']?.jobgate_audit === 'run')
  .map(line => {
    const labels = line['logging.googleapis.com/labels']
    return { ...line, job: labels.jobgate_job, principal: labels.jobgate_principal, outcome: labels.jobgate_outcome }
  })
