import { createInterface } from 'node:readline'
import type { ApiClient } from './api-client.js'
import { ExitCode, exitCodeOfState } from './exit-codes.js'
import type { Terminal } from './terminal.js'
import type { Run } from './types.js'

/** Reads one line (undefined at end of input), then lets go of the stream so the process can exit. */
export function readLine (input: NodeJS.ReadableStream): Promise<string | undefined> {
  const lines = createInterface({ input, terminal: false })
  return new Promise<string | undefined>(resolve => {
    lines.once('line', resolve)
    lines.once('close', () => resolve(undefined))
  }).finally(() => lines.close())
}

export interface InterruptOptions {
  terminal: Terminal
  client: ApiClient
  job: string
  run: Run
  /** Ask before cancelling: only when a person is at a terminal. */
  ask: boolean
  stdin: NodeJS.ReadableStream | undefined
  resumeHint: string
}

/**
 * Ctrl-C while waiting. On a TTY: ask whether to cancel the run and cancel on "y".
 * Otherwise (CI) just stop waiting. Returns 3 when the cancel went through, else 130.
 */
export async function handleInterrupt ({ terminal, client, job, run, ask, stdin, resumeHint }: InterruptOptions): Promise<number> {
  terminal.clearStatus()
  if (ask && stdin !== undefined) {
    terminal.prompt(`\nCancel run ${run.name}? [y/N] `)
    const answer = (await readLine(stdin))?.trim() ?? ''
    if (/^y(es)?$/i.test(answer)) {
      try {
        const after = await client.cancelRun(job, run.name)
        if (after.state === 'SUCCEEDED' || after.state === 'FAILED') {
          terminal.err(`Run ${run.name} had already ended: ${after.state}.`)
          return exitCodeOfState(after.state)
        }
        terminal.err(`Cancelled run ${run.name} (state now ${after.state}). Check it with: ${resumeHint}`)
        return ExitCode.cancelled
      } catch (error) {
        terminal.err(`jobgate: could not cancel run ${run.name}: ${(error as Error).message}`)
      }
    }
  } else {
    terminal.err('\nInterrupted: stopped waiting.')
  }
  terminal.err(`Run ${run.name} continues. Resume with: ${resumeHint}`)
  return ExitCode.interrupted
}
