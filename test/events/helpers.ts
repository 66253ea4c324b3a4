import type { Emulator, V1Execution } from '../../emulator/index.js'

export const RUN_PATH = /:run$/

/** How many `jobs.run` calls reached the Cloud Run emulator so far. */
export const runCalls = (emulator: Emulator): number =>
  emulator.requests.filter(request => request.method === 'POST' && RUN_PATH.test(request.path)).length

/** The env of a Cloud Run execution's (first) container, as a record. */
export function executionEnv (execution: V1Execution): Record<string, string> {
  const env = execution.spec.template.spec.containers[0]?.env ?? []
  return Object.fromEntries(env.map(({ name, value }) => [name, value ?? '']))
}

/** Polls `check` every 50 ms until it returns true or `timeoutMs` passes; returns the elapsed ms. */
export async function until (check: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const started = performance.now()
  while (!check()) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return Math.round(performance.now() - started)
}
