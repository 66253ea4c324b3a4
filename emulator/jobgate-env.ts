/**
 * The settings that point jobgate's cloud mode at a running emulator, open to any caller: what tests and
 * benches use to run jobgate as on Cloud Run, against this stand-in for the Run Admin API and Cloud Logging.
 */
export function cloudModeAgainst (emulator: { url: string }, project: string): Record<string, string> {
  return {
    JOBGATE_MODE: 'cloud',
    JOBGATE_AUTH: 'none',
    JOBGATE_ALLOW_UNAUTHENTICATED: 'true',
    GOOGLE_CLOUD_PROJECT: project,
    CLOUD_RUN_API_ENDPOINT: emulator.url,
    CLOUD_LOGGING_API_ENDPOINT: emulator.url
  }
}
