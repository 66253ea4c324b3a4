import { startEmulator, type Emulator, type V1Execution } from '../../emulator/index.js'

/**
 * The Cloud Run emulator (project `bench`) with one job per name, each run the emulator's built-in `emulator:sleep`:
 * a timer, not a process, so thousands of short runs measure jobgate rather than process start-up.
 */
export async function sleepingJobs (names: readonly string[], runSeconds: number): Promise<Emulator> {
  return await startEmulator({
    projectId: 'bench',
    region: 'us-central1',
    jobs: names.map(name => ({ project: 'bench', name, command: ['emulator:sleep', String(runSeconds)], maxRetries: 0 }))
  })
}

/** `:run` calls the emulator received for `job`: each is a start, so exactly once means one per run. */
export function runCalls (emulator: Emulator, job: string): number {
  return emulator.requests.filter(request => request.method === 'POST' && request.path.endsWith(`/jobs/${job}:run`)).length
}

/** `executions.list` calls the emulator received (pages of a job's runs): reads of Cloud Run that count against its read quota. */
export function listCalls (emulator: Emulator): number {
  return emulator.requests.filter(request => request.method === 'GET' && request.path.endsWith('/executions')).length
}

/** One of an execution's container env values, overrides included (`JOBGATE_RUN`: the queued name of an admitted run). */
export function envValue (execution: V1Execution, name: string): string | undefined {
  return execution.spec.template.spec.containers[0]?.env?.find(variable => variable.name === name)?.value
}

/** Polls `done` every `everyMs` until it holds or `deadline` (epoch ms) passes, with a `progress` line on stderr every 30 s. */
export async function waitUntil (
  done: () => boolean | Promise<boolean>, deadline: number, progress: () => string, everyMs = 500
): Promise<boolean> {
  let reported = Date.now()
  for (;;) {
    if (await done()) return true
    if (Date.now() >= deadline) return false
    if (Date.now() - reported >= 30_000) {
      reported = Date.now()
      process.stderr.write(`${progress()}\n`)
    }
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
}
