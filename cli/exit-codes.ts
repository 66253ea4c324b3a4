/** The CLI's exit codes: a CI pipeline branches on these, so they never change meaning. */
export const ExitCode = {
  succeeded: 0,
  runFailed: 1,
  usage: 2,
  cancelled: 3,
  waitTimeout: 4,
  apiError: 5,
  interrupted: 130
} as const

export type ExitCodeValue = typeof ExitCode[keyof typeof ExitCode]

/** The outcome of a run that ended, as an exit code. */
export function exitCodeOfState (state: string): ExitCodeValue {
  if (state === 'SUCCEEDED') return ExitCode.succeeded
  if (state === 'CANCELLED') return ExitCode.cancelled
  return ExitCode.runFailed
}

export const exitCodeTable = `Exit codes:
  0    the run succeeded (or the command did what it was asked)
  1    the run failed
  2    usage or configuration error
  3    the run was cancelled
  4    --wait-timeout passed; the run continues
  5    API, authentication or network error (the server's message is printed)
  130  interrupted by Ctrl-C; the run continues`
