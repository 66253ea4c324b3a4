import type { JobCatalog, JobEntry } from './catalog.js'
import type { Config } from './config.js'
import { startEmulator, type Emulator, type EmulatorJob } from '../emulator/index.js'

export interface LocalMode {
  config: Config
  emulator: Emulator
}

/** The catalog's jobs as emulator jobs: each runs the companion job unless the emulator is told otherwise. */
function emulatorJobs (catalog: JobCatalog): EmulatorJob[] {
  return [...catalog.values()].map(entry => ({
    project: entry.project,
    region: entry.region,
    name: entry.job,
    ...(entry.container !== undefined && { containerName: entry.container })
  }))
}

/**
 * Starts the embedded Cloud Run emulator on a free loopback port and points the production
 * clients at it: only base URLs change, so local mode runs the same code path as Cloud Run.
 */
export async function startLocalMode (config: Config): Promise<LocalMode> {
  const emulator = await startEmulator({
    host: '127.0.0.1',
    port: 0,
    region: config.region,
    ...(config.project !== undefined && { projectId: config.project }),
    jobs: emulatorJobs(config.catalog),
    // A local run is in no Cloud Console: its logs are jobgate's own route (the Run's links.logs).
    consoleLogLinks: false
  })
  // google-auth-library's own variable: its metadata-server client asks the emulator for tokens.
  process.env.GCE_METADATA_HOST = emulator.hostPort
  return {
    emulator,
    config: { ...config, runApiEndpoint: emulator.url, loggingApiEndpoint: emulator.url }
  }
}

/** Resolves when the emulator has ended the run (the watcher then reads it at once). */
export const localRunEnded = (emulator: Emulator) => async (entry: JobEntry, name: string): Promise<unknown> =>
  await emulator.waitForExecution(name, entry.project)

/** What a person who just ran `npm start` needs: where it is, and one command that proves it works. */
export function localBanner (apiUrl: string, local: LocalMode): string {
  const job = [...local.config.catalog.keys()][0] ?? 'echo'
  const body = JSON.stringify({ args: ['hello'], env: { TENANT_ID: 'acme', REPORT_DATE: '2026-11-23' }, taskCount: 2 })
  return [
    '',
    `jobgate is running in local mode at ${apiUrl}`,
    `  Cloud Run emulator: ${local.emulator.url} (jobs run as local processes; no Google account used)`,
    `  Project:            ${local.emulator.projectId} (the emulator pretends to be it; GOOGLE_CLOUD_PROJECT sets it, JOBGATE_MODE=cloud uses the real one)`,
    `  API docs:           ${apiUrl}/docs`,
    '',
    'Start a run:',
    `  curl -s -X POST ${apiUrl}/v1/jobs/${job}/runs -H 'content-type: application/json' -d '${body}'`,
    'Then follow the Location it returns:',
    `  curl -s '${apiUrl}/v1/jobs/${job}/runs/RUN?wait=30'`,
    `  curl -s ${apiUrl}/v1/jobs/${job}/runs/RUN/logs`,
    ''
  ].join('\n')
}
