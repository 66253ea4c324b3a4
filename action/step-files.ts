import { randomUUID } from 'node:crypto'
import { appendFileSync } from 'node:fs'
import type { Run } from '../cli/types.js'
import type { OutputName } from './inputs.js'
import type { WorkflowCommands } from './workflow-commands.js'

/** The files the runner reads after the step: its outputs (GITHUB_OUTPUT) and its job summary (GITHUB_STEP_SUMMARY). */
export class StepFiles {
  readonly #outputFile: string | undefined
  readonly #summaryFile: string | undefined
  readonly #commands: WorkflowCommands

  constructor (env: Readonly<Record<string, string | undefined>>, commands: WorkflowCommands) {
    this.#outputFile = env.GITHUB_OUTPUT
    this.#summaryFile = env.GITHUB_STEP_SUMMARY
    this.#commands = commands
  }

  /** `name<<delimiter`, the value, the delimiter: a value can hold any text, newlines included. */
  output (name: OutputName, value: string): void {
    if (this.#outputFile === undefined) {
      this.#commands.warning(`GITHUB_OUTPUT is not set: output ${name} is not written`, 'jobgate: outputs')
      return
    }
    const delimiter = `ghadelimiter_${randomUUID()}`
    appendFileSync(this.#outputFile, `${name}<<${delimiter}\n${value}\n${delimiter}\n`)
  }

  /** Every output that follows from the run as last seen; `apiUrl` makes jobgate's logs link absolute. */
  runOutputs (run: Run, apiUrl: URL): void {
    this.output('run', run.name)
    this.output('state', run.state)
    this.output('succeeded-count', String(run.succeededCount))
    this.output('failed-count', String(run.failedCount))
    this.output('log-url', logUrl(run, apiUrl))
  }

  summary (markdown: string): void {
    if (this.#summaryFile !== undefined) appendFileSync(this.#summaryFile, markdown)
  }
}

/** The Cloud Console's page of the run's log lines, or (local mode has none) jobgate's own logs route. */
export const logUrl = (run: Run, apiUrl: URL): string =>
  run.logUri ?? new URL(run.links.logs.replace(/^\//, ''), apiUrl.href.endsWith('/') ? apiUrl : `${apiUrl.href}/`).href
