import { spawn } from 'node:child_process'
import { join } from 'node:path'
import type { Row, Scenario } from '../scenario.js'
import { installCli } from '../lib/installed-cli.js'
import { API_KEY, REPO, SERVER, jobgateEnv, spawnServer, timeToExit } from '../lib/jobgate.js'
import { median, ms } from '../lib/stats.js'
import { startUpstream } from '../lib/upstream.js'

const CLI = join(REPO, 'bin/jobgate.js')
/** Reports the process's peak RSS on exit; preloaded into the CLI and its anchors alike. */
const REPORT_MAX_RSS = '--import=data:text/javascript,process.on("exit",()=>process.stderr.write("maxrss:"+process.resourceUsage().maxRSS+"\\n"))'

/** Peak RSS in MB (10^6 bytes, as /usr/bin/time and the issue count) of `node <args>` run to its end. */
async function peakRss (args: string[], env: Record<string, string>): Promise<number> {
  const child = spawn(process.execPath, [REPORT_MAX_RSS, ...args], { env, cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
  const kb = /maxrss:(\d+)/.exec(stderr)?.[1]
  if (code !== 0 || kb === undefined) throw new Error(`node ${args.join(' ')} exited with ${String(code)}: ${stderr}`)
  return Number(kb) * 1024 / 1e6
}

const times = (value: number, anchor: number, what: string): string => `${(value / anchor).toFixed(2)}× ${what}`

export const scenario: Scenario = {
  name: 'cli',
  about: 'the CLI as installed from `npm pack ./cli` (and as one file) beside bare node: `--version` and the peak RSS of `run echo --wait` with an API key; the repository\'s bin for comparison',
  async run ({ samples }) {
    const env = { PATH: process.env.PATH ?? '' }
    const installed = installCli()
    try {
      const bare: number[] = []
      const version: number[] = []
      const installedVersion: number[] = []
      const standaloneVersion: number[] = []
      for (let i = 0; i < samples; i++) {
        bare.push(await timeToExit(['-e', '0']))
        installedVersion.push(await timeToExit([installed.bin, '--version']))
        standaloneVersion.push(await timeToExit([installed.standalone, '--version']))
        version.push(await timeToExit([CLI, '--version']))
      }
      const upstream = await startUpstream()
      const server = await spawnServer([SERVER], jobgateEnv(upstream.host))
      try {
        const cliEnv = { ...env, JOBGATE_URL: server.url, JOBGATE_API_KEY: API_KEY }
        const rss: Record<'bare' | 'undici' | 'repo' | 'installed' | 'standalone', number[]> = { bare: [], undici: [], repo: [], installed: [], standalone: [] }
        for (let i = 0; i < Math.min(samples, 5); i++) {
          rss.bare.push(await peakRss(['-e', '0'], env))
          rss.undici.push(await peakRss(['--input-type=module', '-e', 'await import(\'undici\')'], env))
          rss.installed.push(await peakRss([installed.bin, 'run', 'echo', '--wait'], cliEnv))
          rss.standalone.push(await peakRss([installed.standalone, 'run', 'echo', '--wait'], cliEnv))
          rss.repo.push(await peakRss([CLI, 'run', 'echo', '--wait'], cliEnv))
        }
        const [b, v, iv, sv] = [median(bare), median(version), median(installedVersion), median(standaloneVersion)]
        const [rb, ru, rr, ri, rs] = [median(rss.bare), median(rss.undici), median(rss.repo), median(rss.installed), median(rss.standalone)]
        const mb = (value: number): string => `${value.toFixed(0)} MB`
        return [
          { measure: `bare \`node -e 0\`, spawn → exit (median of ${samples})`, value: ms(b) },
          { measure: 'installed `jobgate --version` (the package\'s one file)', value: ms(iv), anchor: times(iv, b, 'bare node'), goal: { text: '≤ 2× bare node', met: iv / b <= 2 } },
          { measure: 'single-file `node jobgate.mjs --version`', value: ms(sv), anchor: times(sv, b, 'bare node') },
          { measure: 'repository `bin/jobgate.js --version` (compiled sources)', value: ms(v), anchor: times(v, b, 'bare node') },
          { measure: 'installed package: node_modules', value: `${(installed.nodeModulesBytes / 1e6).toFixed(1)} MB`, anchor: 'google-auth-library and its dependencies', goal: { text: '≤ 15 MB', met: installed.nodeModulesBytes <= 15e6 } },
          { measure: 'peak RSS, bare node', value: mb(rb) },
          { measure: 'peak RSS, importing undici', value: mb(ru), anchor: times(ru, rb, 'bare node') },
          { measure: 'peak RSS, installed `jobgate run echo --wait` (API key)', value: mb(ri), anchor: times(ri, rb, 'bare node'), goal: { text: '≤ 70 MB', met: ri <= 70 } },
          { measure: 'peak RSS, single-file `run echo --wait`', value: mb(rs), anchor: times(rs, rb, 'bare node') },
          { measure: 'peak RSS, repository bin `run echo --wait`', value: mb(rr), anchor: `${times(rr, rb, 'bare node')}, ${(rr / ru).toFixed(2)}× undici's import` }
        ] satisfies Row[]
      } finally {
        await server.stop()
        await upstream.close()
      }
    } finally {
      installed.remove()
    }
  }
}
