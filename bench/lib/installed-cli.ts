import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository, from bench/lib/ (a test loads the source) or dist/bench/lib/ (the bench runs the build). */
const here = dirname(fileURLToPath(import.meta.url))
const REPO = [join(here, '../..'), join(here, '../../..')].find(dir => existsSync(join(dir, 'cli/package.json'))) ?? here

export interface InstalledCli {
  /** What `npm pack` put in the tarball. */
  files: string[]
  /** The project it was installed into. */
  project: string
  /** The installed package's executable (node_modules/@jobgate/cli/dist/jobgate.mjs). */
  bin: string
  /** The single-file build, copied where no node_modules is. */
  standalone: string
  /** Bytes of the project's node_modules after installing the tarball. */
  nodeModulesBytes: number
  remove: () => void
}

function run (command: string, args: string[], cwd: string): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_prefer_offline: 'true' } })
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`)
  return result.stdout
}

export function bytesUnder (dir: string): number {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).reduce((sum, name) => {
    const stat = statSync(join(dir, name), { throwIfNoEntry: false })
    return sum + (stat?.isFile() === true ? stat.size : 0)
  }, 0)
}

/** The CLI as a CI runner gets it: `npm pack ./cli`, installed into an empty project (npm's cache first). */
export function installCli (): InstalledCli {
  const dir = mkdtempSync(join(tmpdir(), 'jobgate-bench-cli-'))
  // `npm run build` wrote cli/dist (the bench and `npm test` run it first): prepack need not build it again.
  const packed = JSON.parse(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], join(REPO, 'cli'))) as [{ filename: string, files: Array<{ path: string }> }]
  const project = join(dir, 'project')
  mkdirSync(project)
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'bench-ci', private: true }))
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', join(dir, packed[0].filename)], project)
  const alone = join(dir, 'alone')
  mkdirSync(alone)
  const standalone = join(alone, 'jobgate.mjs')
  writeFileSync(standalone, readFileSync(join(REPO, 'cli/dist/jobgate-standalone.mjs')))
  return {
    files: packed[0].files.map(file => file.path),
    project,
    bin: join(project, 'node_modules/@jobgate/cli/dist/jobgate.mjs'),
    standalone,
    nodeModulesBytes: bytesUnder(join(project, 'node_modules')),
    remove: () => { rmSync(dir, { recursive: true, force: true }) }
  }
}
