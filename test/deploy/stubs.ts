// Runs the deploy scripts against stub `gcloud` and `docker` executables that record every call.
import { spawnSync } from 'node:child_process'
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

export interface Call {
  tool: 'gcloud' | 'docker'
  cwd: string
  args: string[]
}

export interface ScriptResult {
  status: number | null
  stdout: string
  stderr: string
  calls: Call[]
}

/** A deadline, not a pace: a script run takes a second when the machine is idle, tens of seconds when it is loaded. */
const SPAWN_DEADLINE_MS = 180_000

// One bash stub plays both tools; see its header for what it records and answers.
const stubSource = join(repoRoot, 'test/deploy/stub-tool.sh')

export class StubWorld {
  readonly dir = mkdtempSync(join(tmpdir(), 'jobgate-deploy-'))
  readonly bin = join(this.dir, 'bin')
  readonly state = join(this.dir, 'state')
  readonly log = join(this.dir, 'calls.jsonl')

  constructor () {
    mkdirSync(this.bin)
    mkdirSync(this.state)
    for (const tool of ['gcloud', 'docker']) {
      copyFileSync(stubSource, join(this.bin, tool))
      chmodSync(join(this.bin, tool), 0o755)
    }
  }

  // Forget created resources and recorded calls, as a fresh project would.
  reset (): void {
    rmSync(this.state, { recursive: true, force: true })
    mkdirSync(this.state)
    rmSync(this.log, { force: true })
  }

  calls (): Call[] {
    if (!existsSync(this.log)) return []
    return readFileSync(this.log, 'utf8').split('\n').filter(line => line !== '').map(line => JSON.parse(line) as Call)
  }

  // A clean environment (nothing from the developer's shell leaks in) with the stubs first on PATH.
  env (vars: Record<string, string>): Record<string, string> {
    return {
      PATH: `${this.bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      HOME: this.dir,
      STUB_LOG: this.log,
      STUB_STATE: this.state,
      IAM_RETRY_DELAY: '0',
      ...vars
    }
  }

  // Runs `bash script args…` from `cwd`; the calls returned are only this run's.
  run (script: string, vars: Record<string, string>, args: string[] = [], cwd = repoRoot): ScriptResult {
    const before = this.calls().length
    const result = spawnSync('bash', [script, ...args], { cwd, env: this.env(vars), encoding: 'utf8', timeout: SPAWN_DEADLINE_MS })
    return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls: this.calls().slice(before) }
  }

  // Runs text as a bash script (used to replay what --dry-run printed).
  runText (text: string, vars: Record<string, string> = {}): ScriptResult {
    const before = this.calls().length
    const result = spawnSync('bash', ['-euo', 'pipefail', '-c', text], { env: this.env(vars), encoding: 'utf8', timeout: SPAWN_DEADLINE_MS })
    return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls: this.calls().slice(before) }
  }

  remove (): void {
    rmSync(this.dir, { recursive: true, force: true })
  }
}

export function argv (call: Call): string {
  return [call.tool, ...call.args].join(' ')
}

// The value following `--name` in a call's argv.
export function flagValue (call: Call | undefined, name: string): string | undefined {
  if (call === undefined) return undefined
  const index = call.args.indexOf(`--${name}`)
  return index === -1 ? undefined : call.args[index + 1]
}

export function gitShortSha (): string {
  return spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).stdout.trim()
}

// Parses a --set-env-vars value with gcloud's own flag parser (the SDK's Python), so the
// test proves gcloud reads the catalog JSON back intact, commas and all.
export function parseWithGcloud (setEnvVars: string): Record<string, string> {
  const which = spawnSync('bash', ['-c', 'readlink -f "$(command -v gcloud)"'], { encoding: 'utf8' }).stdout.trim()
  if (which === '') throw new Error('gcloud is not installed: this test parses --set-env-vars with the Cloud SDK\'s own parser')
  const sdkRoot = resolve(dirname(which), '..')
  const bundled = join(sdkRoot, 'platform/bundledpythonunix/bin/python3')
  const python = existsSync(bundled) ? bundled : 'python3'
  const program = [
    'import argparse, json, sys',
    `sys.path[:0] = [${JSON.stringify(join(sdkRoot, 'lib'))}, ${JSON.stringify(join(sdkRoot, 'lib/third_party'))}]`,
    'from googlecloudsdk.command_lib.run import flags',
    'parser = argparse.ArgumentParser()',
    'flags.AddSetEnvVarsFlag(parser)',
    'print(json.dumps(dict(parser.parse_args(["--set-env-vars", sys.argv[1]]).set_env_vars)))'
  ].join('\n')
  const result = spawnSync(python, ['-c', program, setEnvVars], { encoding: 'utf8', timeout: SPAWN_DEADLINE_MS })
  if (result.status !== 0) throw new Error(`gcloud's parser rejected the value: ${result.stderr}`)
  return JSON.parse(result.stdout) as Record<string, string>
}
