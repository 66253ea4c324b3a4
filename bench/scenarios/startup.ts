import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import module from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Row, Scenario } from '../scenario.js'
import { API_KEY, REPO, SERVER, jobgateEnv, spawnServer, wallAndCpuToExit } from '../lib/jobgate.js'
import { rssBytes } from '../lib/proc.js'
import { median, mib, ms } from '../lib/stats.js'
import { startUpstream } from '../lib/upstream.js'

/** The anchor: what merely importing the three big runtime libraries costs. */
export const IMPORT_LIBRARIES = 'await import(\'fastify\'); await import(\'google-auth-library\'); await import(\'undici\')'

interface Variant { label: string, server: string, env: Record<string, string>, wall: number[], cpu: number[], firstRunCpu: number[] }

/** One `POST …/runs` that must start a run. */
async function startRun (url: string): Promise<void> {
  const started = await fetch(`${url}/v1/jobs/echo/runs`, { method: 'POST', headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' }, body: '{"args":["bench"]}' })
  if (started.status !== 202) throw new Error(`POST …/runs answered ${started.status}: ${await started.text()}`)
}

/**
 * One sample of a server's start: spawn → /healthz 200 (wall and CPU time), then CPU time to its first
 * `POST …/runs` answered, what a cold instance's first caller waits for (undici, the token, its schemas).
 */
async function sampleStart (variant: Variant): Promise<void> {
  const server = await spawnServer([variant.server], variant.env, { cpuProbe: true })
  try {
    variant.wall.push(server.readyMs)
    variant.cpu.push(await server.cpuMs())
    await startRun(server.url)
    variant.firstRunCpu.push(await server.cpuMs())
  } finally {
    await server.stop()
  }
}

/** A compile cache written as the image build writes it (dist/common/warm-compile-cache.js), in a fresh folder. */
function warmCompileCache (): string {
  const cache = mkdtempSync(join(tmpdir(), 'jobgate-compile-cache-'))
  const warm = spawnSync(process.execPath, [join(REPO, 'dist/common/warm-compile-cache.js')], { env: { PATH: process.env.PATH ?? '', NODE_COMPILE_CACHE: cache }, stdio: 'inherit' })
  if (warm.status !== 0) throw new Error('the compile cache warm-up failed')
  return cache
}

/** Resident memory of a process that imports the libraries and stays alive, read from outside. */
async function librariesRss (): Promise<number> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', `${IMPORT_LIBRARIES}; process.stdout.write('ready\\n'); setInterval(() => {}, 1000)`], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>(resolve => child.stdout.once('data', () => { resolve() }))
  const rss = rssBytes(child.pid ?? 0)
  child.kill()
  return rss
}

export const scenario: Scenario = {
  name: 'startup',
  about: '`node dist/api/server.js` spawn → /healthz 200 and its memory after the first run, beside bare node and the libraries\' import, samples interleaved',
  async run ({ samples, compare = [] }) {
    const upstream = await startUpstream()
    const env = jobgateEnv(upstream.host)
    const bare: number[] = []
    const libraries: number[] = []
    // CPU time to the same points (exit, or /healthz 200): a shared machine distorts it far less than wall time.
    const bareCpu: number[] = []
    const librariesCpu: number[] = []
    const jobgate: Variant = { label: 'jobgate', server: SERVER, env, wall: [], cpu: [], firstRunCpu: [] }
    // The same start with the image's compile cache (Node >= 22.1), and other builds' servers (--compare), in the same interleaving.
    const variants: Variant[] = [
      ...('enableCompileCache' in module ? [{ label: 'jobgate with the compile cache the image build writes (NODE_COMPILE_CACHE)', server: SERVER, env: { ...env, NODE_COMPILE_CACHE: warmCompileCache() } }] : []),
      ...compare.map(server => ({ label: `\`${server}\` (--compare)`, server, env }))
    ].map(variant => ({ ...variant, wall: [], cpu: [], firstRunCpu: [] }))
    try {
      for (let i = 0; i < samples; i++) {
        const b = await wallAndCpuToExit('0')
        bare.push(b.wallMs); bareCpu.push(b.cpuMs)
        const l = await wallAndCpuToExit(IMPORT_LIBRARIES, { esm: true })
        libraries.push(l.wallMs); librariesCpu.push(l.cpuMs)
        for (const variant of [jobgate, ...variants]) await sampleStart(variant)
      }
      const server = await spawnServer([SERVER], env)
      let afterTrigger: number
      try {
        await startRun(server.url)
        afterTrigger = rssBytes(server.child.pid ?? 0)
      } finally {
        await server.stop()
      }
      const librariesMemory = await librariesRss()
      const [b, l, j] = [median(bare), median(libraries), median(jobgate.wall)]
      const [bc, lc, jc] = [median(bareCpu), median(librariesCpu), median(jobgate.cpu)]
      return [
        { measure: 'CPU time: bare node / the libraries\' import, to exit', value: `${ms(bc)} / ${ms(lc)}` },
        { measure: 'CPU time: jobgate to /healthz 200', value: ms(jc), anchor: `${(jc / bc).toFixed(2)}× bare node, ${(jc / lc).toFixed(2)}× the libraries' import` },
        { measure: 'CPU time: jobgate to its first `POST …/runs` answered (202)', value: ms(median(jobgate.firstRunCpu)) },
        ...variants.map(({ label, wall, cpu, firstRunCpu: firstRun }) => ({
          measure: `${label}: CPU time to /healthz 200 / to the first 202; spawn → /healthz 200`,
          value: `${ms(median(cpu))} / ${ms(median(firstRun))}; ${ms(median(wall))}`,
          anchor: `CPU ${(median(cpu) / bc).toFixed(2)}× bare node, ${(median(cpu) / jc).toFixed(2)}× jobgate; wall ${(median(wall) / b).toFixed(2)}× bare node`
        })),
        { measure: `bare \`node -e 0\`, spawn → exit (median of ${samples})`, value: ms(b) },
        { measure: 'importing fastify + google-auth-library + undici, spawn → exit', value: ms(l), anchor: `${(l / b).toFixed(2)}× bare node` },
        {
          measure: 'jobgate `node dist/api/server.js`, spawn → /healthz 200',
          value: ms(j),
          anchor: `${(j / b).toFixed(2)}× bare node, ${(j / l).toFixed(2)}× the libraries' import`,
          goal: { text: '≤ 3× bare node and < 1× the import', met: j / b <= 3 && j < l }
        },
        { measure: 'RSS, the libraries imported', value: mib(librariesMemory) },
        { measure: 'RSS of jobgate after its first POST …/runs', value: mib(afterTrigger), anchor: `${(afterTrigger / librariesMemory).toFixed(2)}× the libraries' import`, goal: { text: '≤ 90 MiB', met: afterTrigger <= 90 * 1048576 } }
      ] satisfies Row[]
    } finally {
      await upstream.close()
    }
  }
}
