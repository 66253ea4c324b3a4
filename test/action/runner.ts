/**
 * Runs the GitHub Action as a runner does: `node <runs.main>` from action.yml, each `with:` value (and each default
 * action.yml declares) as an INPUT_<NAME> variable, and fresh GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files it reads after.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'yaml'
import { inputVariable } from '../../action/inputs.js'
import { runProcess } from '../helpers/run-process.js'

export const REPO = new URL('../../', import.meta.url).pathname

export interface ActionYml {
  name: string
  inputs: Record<string, { description: string, required?: boolean, default?: string }>
  outputs: Record<string, { description: string }>
  runs: { using: string, main: string }
}

export const actionYml = (): ActionYml => parse(readFileSync(join(REPO, 'action.yml'), 'utf8')) as ActionYml

export interface StepResult {
  code: number | null
  /** The step's log: workflow commands and plain lines. */
  log: string
  stderr: string
  /** GITHUB_OUTPUT as the runner reads it (`name<<delimiter` … `delimiter`). */
  outputs: Record<string, string>
  /** GITHUB_STEP_SUMMARY: Markdown. */
  summary: string
}

/** Reads `name<<delimiter\nvalue\ndelimiter` entries (and `name=value` lines), the later of two values winning, as the runner does. */
export function parseOutputs (text: string): Record<string, string> {
  const outputs: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line)
    if (heredoc !== null) {
      const end = lines.indexOf(heredoc[2] as string, i + 1)
      outputs[heredoc[1] as string] = lines.slice(i + 1, end).join('\n')
      i = end
    } else if (line.includes('=')) {
      outputs[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1)
    }
  }
  return outputs
}

/** One step `uses: ./` with `with`, in a clean environment plus `env`. */
export async function runStep (withInputs: Record<string, string>, env: Record<string, string> = {}): Promise<StepResult> {
  const { inputs, runs } = actionYml()
  const dir = mkdtempSync(join(tmpdir(), 'jobgate-action-step-'))
  try {
    const files = { GITHUB_OUTPUT: join(dir, 'output'), GITHUB_STEP_SUMMARY: join(dir, 'summary') }
    for (const file of Object.values(files)) writeFileSync(file, '')
    const defaults = Object.entries(inputs).filter(([, input]) => input.default !== undefined)
      .map(([name, input]) => [inputVariable(name), input.default as string])
    const given = Object.entries(withInputs).map(([name, value]) => [inputVariable(name), value])
    const result = await runProcess(process.execPath, [join(REPO, runs.main)], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', HOME: dir, CLOUDSDK_CONFIG: dir, GITHUB_ACTIONS: 'true', ...files, ...Object.fromEntries([...defaults, ...given]), ...env }
    })
    return {
      code: result.code,
      log: result.stdout,
      stderr: result.stderr,
      outputs: parseOutputs(readFileSync(files.GITHUB_OUTPUT, 'utf8')),
      summary: readFileSync(files.GITHUB_STEP_SUMMARY, 'utf8')
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The `::command props::message` lines of a step's log. */
export const workflowCommands = (log: string, command: string): string[] =>
  log.split('\n').filter(line => line.startsWith(`::${command}::`) || line.startsWith(`::${command} `))
