import { spawn } from 'node:child_process'
import { join } from 'node:path'
import type { Row, Scenario } from '../scenario.js'
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

export const scenario: Scenario = {
  name: 'cli',
  about: '`jobgate --version` beside bare node; peak RSS of `jobgate run echo --wait` with an API key beside bare node and importing undici',
  async run ({ samples }) {
    const env = { PATH: process.env.PATH ?? '' }
    const bare: number[] = []
    const version: number[] = []
    for (let i = 0; i < samples; i++) {
      bare.push(await timeToExit(['-e', '0']))
      version.push(await timeToExit([CLI, '--version']))
    }
    const upstream = await startUpstream()
    const server = await spawnServer([SERVER], jobgateEnv(upstream.host))
    try {
      const cliEnv = { ...env, JOBGATE_URL: server.url, JOBGATE_API_KEY: API_KEY }
      const runRss: number[] = []
      const bareRss: number[] = []
      const undiciRss: number[] = []
      for (let i = 0; i < Math.min(samples, 5); i++) {
        bareRss.push(await peakRss(['-e', '0'], env))
        undiciRss.push(await peakRss(['--input-type=module', '-e', 'await import(\'undici\')'], env))
        runRss.push(await peakRss([CLI, 'run', 'echo', '--wait'], cliEnv))
      }
      const [b, v] = [median(bare), median(version)]
      const [rb, ru, rr] = [median(bareRss), median(undiciRss), median(runRss)]
      return [
        { measure: `bare \`node -e 0\`, spawn → exit (median of ${samples})`, value: ms(b) },
        { measure: '`jobgate --version`', value: ms(v), anchor: `${(v / b).toFixed(2)}× bare node`, goal: { text: '≤ 2× bare node', met: v / b <= 2 } },
        { measure: 'peak RSS, bare node', value: `${rb.toFixed(0)} MB` },
        { measure: 'peak RSS, importing undici', value: `${ru.toFixed(0)} MB`, anchor: `${(ru / rb).toFixed(2)}× bare node` },
        { measure: 'peak RSS, `jobgate run echo --wait` (API key)', value: `${rr.toFixed(0)} MB`, anchor: `${(rr / rb).toFixed(2)}× bare node, ${(rr / ru).toFixed(2)}× undici's import`, goal: { text: '≤ 70 MB', met: rr <= 70 } }
      ] satisfies Row[]
    } finally {
      await server.stop()
      await upstream.close()
    }
  }
}
