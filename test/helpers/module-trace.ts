import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const REGISTER = fileURLToPath(new URL('../fixtures/module-trace/register.mjs', import.meta.url))

export interface ModuleTrace {
  /** Node arguments that make a spawned process record every module it loads. */
  nodeArgs: string[]
  /** Environment the spawned process needs for it. */
  env: Record<string, string>
  /** URLs of the modules loaded so far (ESM and the CommonJS files they import). */
  loaded: () => string[]
  /** True when any loaded module lives in node_modules/<name>/. */
  hasPackage: (name: string) => boolean
}

/** Records what a spawned node process loads, to prove a module stays unloaded until first use. */
export function moduleTrace (): ModuleTrace {
  const file = join(mkdtempSync(join(tmpdir(), 'jobgate-modules-')), 'loaded.txt')
  const loaded = (): string[] => {
    try {
      return readFileSync(file, 'utf8').split('\n').filter(line => line !== '')
    } catch {
      return []
    }
  }
  return {
    nodeArgs: ['--import', REGISTER],
    env: { MODULE_TRACE_FILE: file },
    loaded,
    hasPackage: name => loaded().some(url => url.includes(`/node_modules/${name}/`))
  }
}
