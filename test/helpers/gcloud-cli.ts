/**
 * Runs the real `gcloud` CLI against the emulator, with a throw-away CLOUDSDK_CONFIG.
 *
 * gcloud reaches Cloud Run at `{region}-` + the override's host (`us-central1-127.0.0.1`), a name
 * nothing resolves; so gcloud's own HTTP proxy setting points at the emulator, which accepts the
 * absolute-form request targets a proxy receives. The same properties are the `gcloud config set`
 * commands of emulator/README.md ("Works with gcloud").
 */
import { execFile } from 'node:child_process'
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import type { Emulator } from '../../emulator/index.js'

/** The gcloud on PATH, or undefined. */
export function gcloudOnPath (): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'gcloud')
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch { /* not here */ }
  }
  return undefined
}

/** section/name → value: what `gcloud config set` would store. */
export function emulatorProperties (emulator: Emulator, tokenFile: string, project: string): Record<string, string> {
  const { hostname, port } = new URL(emulator.url)
  return {
    'core/project': project,
    'core/disable_prompts': 'true',
    'core/disable_usage_reporting': 'true',
    'core/should_prompt_to_enable_api': 'false',
    'component_manager/disable_update_check': 'true',
    'run/region': emulator.region,
    'auth/access_token_file': tokenFile,
    'api_endpoint_overrides/run': `${emulator.url}/`,
    'api_endpoint_overrides/logging': `${emulator.url}/`,
    'proxy/type': 'http',
    'proxy/address': hostname,
    'proxy/port': port
  }
}

/** The properties as gcloud's configuration file (INI sections), the same as `gcloud config set` writes. */
function propertiesFile (properties: Record<string, string>): string {
  const sections = new Map<string, string[]>()
  for (const [key, value] of Object.entries(properties)) {
    const [section, name] = key.split('/') as [string, string]
    sections.set(section, [...(sections.get(section) ?? []), `${name} = ${value}`])
  }
  return [...sections].map(([section, lines]) => `[${section}]\n${lines.join('\n')}\n`).join('\n')
}

export interface GcloudResult {
  code: number
  stdout: string
  stderr: string
}

export interface Gcloud {
  (...args: string[]): Promise<GcloudResult>
  /** Runs it and parses stdout as JSON (with --format=json added); throws unless it exited 0. */
  json: <T = any>(...args: string[]) => Promise<T>
  /** How many times gcloud was started. */
  invocations: () => number
  properties: Record<string, string>
}

/** A gcloud bound to a fresh configuration that points at `emulator` with one of its access tokens. */
export async function gcloudFor (
  binary: string,
  emulator: Emulator,
  project: string,
  teardown: (fn: () => void) => void,
  concurrency = 3
): Promise<Gcloud> {
  const dir = mkdtempSync(join(tmpdir(), 'gcloud-config-'))
  teardown(() => rmSync(dir, { recursive: true, force: true }))
  const reply = await fetch(`${emulator.url}/computeMetadata/v1/instance/service-accounts/default/token`, {
    headers: { 'Metadata-Flavor': 'Google' }
  })
  const tokenFile = join(dir, 'token')
  writeFileSync(tokenFile, ((await reply.json()) as { access_token: string }).access_token)
  const properties = emulatorProperties(emulator, tokenFile, project)
  mkdirSync(join(dir, 'configurations'))
  writeFileSync(join(dir, 'active_config'), 'default')
  writeFileSync(join(dir, 'configurations', 'config_default'), propertiesFile(properties))
  // Only the temporary configuration counts: no CLOUDSDK_* setting of the machine leaks in.
  const env: Record<string, string> = { CLOUDSDK_CONFIG: dir }
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('CLOUDSDK_') && !name.startsWith('GOOGLE_') && value !== undefined) env[name] = value
  }
  let count = 0
  // gcloud spends a CPU second starting; a few at once overlap their polling without starving the machine.
  let running = 0
  const waiting: Array<() => void> = []
  const acquire = async (): Promise<void> => {
    if (running < concurrency) running++
    else await new Promise<void>(resolve => waiting.push(resolve)) // the slot is handed over by release()
  }
  const release = (): void => {
    const next = waiting.shift()
    if (next !== undefined) next()
    else running--
  }
  const run = async (...args: string[]): Promise<GcloudResult> => {
    await acquire()
    count++
    try {
      return await new Promise(resolve => {
        execFile(binary, args, { env, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
          const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1
          resolve({ code, stdout, stderr })
        })
      })
    } finally {
      release()
    }
  }
  const gcloud = Object.assign(run, {
    json: async (...args: string[]) => {
      const result = await run(...args, '--format=json')
      if (result.code !== 0) throw new Error(`gcloud ${args.join(' ')} exited ${result.code}: ${result.stderr}`)
      return JSON.parse(result.stdout)
    },
    invocations: () => count,
    properties
  })
  return gcloud
}
