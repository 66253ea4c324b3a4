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
  /** True when a loaded module lives in node_modules/<name>/, or is a bundle holding that package's code. */
  hasPackage: (name: string) => boolean
  /** True when node_modules/<path> was loaded, on its own or inside a bundle. */
  hasFile: (path: string) => boolean
}

/** esbuild names each bundled file in a comment (`// node_modules/<path>`): a loaded bundle holding `path` loaded it. */
function bundled (url: string, path: string): boolean {
  try {
    return readFileSync(fileURLToPath(url), 'utf8').includes(`// node_modules/${path}`)
  } catch {
    return false
  }
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
    hasPackage: name => loaded().some(url => url.includes(`/node_modules/${name}/`) || (url.includes('/dist/') && bundled(url, `${name}/`))),
    hasFile: path => loaded().some(url => url.endsWith(`/node_modules/${path}`) || (url.includes('/dist/') && bundled(url, `${path}\n`)))
  }
}
