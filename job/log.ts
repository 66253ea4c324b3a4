import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino'

/** Cloud Logging's LogSeverity names for pino's level labels. */
const severityOfLevel: Record<string, string> = {
  trace: 'DEBUG',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARNING',
  error: 'ERROR',
  fatal: 'CRITICAL'
}

/** The Cloud Logging severity for a pino level label (DEFAULT for anything unknown). */
export function severityOf (label: string): string {
  return severityOfLevel[label] ?? 'DEFAULT'
}

export interface JobLoggerOptions {
  level?: LevelWithSilent
  /** Where lines go; stdout (synchronously, so nothing is lost on process.exit) by default. */
  destination?: DestinationStream
}

/**
 * A pino logger whose lines are Cloud Logging structured-logging objects:
 * `{"severity":"INFO","time":"<RFC3339>","message":"…",…fields}`, no pid/hostname.
 * Cloud Logging lifts `severity` and `time` into the entry and keeps the rest as jsonPayload.
 */
export function createJobLogger (options: JobLoggerOptions = {}): Logger {
  return pino({
    level: options.level ?? 'info',
    messageKey: 'message',
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ severity: severityOf(label) }) }
  }, options.destination ?? pino.destination({ fd: 1, sync: true }))
}
