import type { Row, Scenario } from '../scenario.js'
import { API_KEY, IMAGE_NODE_OPTIONS, REPO, SERVER, jobgateEnv, spawnServer, type Spawned } from '../lib/jobgate.js'
import { load, type LoadRequest, type LoadResult } from '../lib/load.js'
import { CLOUD_RUN_MEMORY, memoryLimit, type MemoryLimit } from '../lib/memory-limit.js'
import { cpuMs, rssBytes } from '../lib/proc.js'
import { mib, perSecond } from '../lib/stats.js'
import { startUpstream } from '../lib/upstream.js'

const CONNECTIONS = 64
const RUN_BODY = '{"args":["bench"],"env":{"REPORT_DATE":"2026-11-29"}}'
const HEALTH: LoadRequest = { method: 'GET', path: '/healthz' }

type LoadOptions = Parameters<typeof load>[2]
type Measured = LoadResult & { cpuUs: number }
interface FloorRates { health: LoadResult, runs: Measured }

/** `load` against a spawned server, and the server's CPU time per answered request (steadier than rates on a shared machine). */
async function measured (server: Spawned, request: LoadRequest, options: LoadOptions): Promise<Measured> {
  const pid = server.child.pid ?? 0
  const before = cpuMs(pid)
  const result = await load(server.url, request, options)
  return { ...result, cpuUs: (cpuMs(pid) - before) * 1000 / Math.max(1, result.statuses[options.expect] ?? 0) }
}

const cpu = (result: { cpuUs: number }): string => `${Math.round(result.cpuUs)} µs of server CPU per request`

/** The floor (bench/lib/floor-server.ts), against a stand-in of its own so that jobgate's socket count stays its own. */
async function floorRates (request: LoadRequest, options: LoadOptions, memory?: MemoryLimit): Promise<FloorRates> {
  const upstream = await startUpstream()
  const floor = await spawnServer([`${REPO}dist/bench/lib/floor-server.js`], { PATH: process.env.PATH ?? '', UPSTREAM: upstream.host }, { memory })
  try {
    return { health: await load(floor.url, HEALTH, options), runs: await measured(floor, request, { ...options, expect: 202 }) }
  } finally {
    await floor.stop()
    await upstream.close()
  }
}

export const scenario: Scenario = {
  name: 'load',
  about: `${CONNECTIONS} connections: POST …/runs beside the same server's /healthz and a direct call to the stand-in upstream; memory under load; log bytes per run; upstream sockets under 200 concurrent runs`,
  async run ({ loadSeconds, soakSeconds }) {
    const upstream = await startUpstream()
    // Each server gets the memory of a Cloud Run instance, so V8 sizes its heap as it would there.
    const memory = memoryLimit(CLOUD_RUN_MEMORY)
    const limit = memory === undefined ? 'no memory limit (a cgroup needs root): V8 sized its heap to this whole machine' : `in a ${memory.about}, as a Cloud Run instance`
    const within = `${limit}; NODE_OPTIONS ${IMAGE_NODE_OPTIONS === '' ? 'unset' : IMAGE_NODE_OPTIONS}, as in the image`
    // In-flight bound above the concurrency used here, so every request reaches the upstream pool.
    const server = await spawnServer([SERVER], jobgateEnv(upstream.host, { JOBGATE_MAX_INFLIGHT_RUNS: '256' }), { memory })
    const pid = server.child.pid ?? 0
    const runs = { method: 'POST' as const, path: '/v1/jobs/echo/runs', headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' }, body: RUN_BODY }
    try {
      const options = { connections: CONNECTIONS, seconds: Math.min(10, loadSeconds), expect: 200 }
      const direct = await load(upstream.url, { method: 'POST', path: '/apis/run.googleapis.com/v1/namespaces/bench/jobs/echo:run', body: '{}' }, options)
      const health = await measured(server, HEALTH, options)
      const logBefore = server.log().bytes
      const linesBefore = server.log().lines.length
      const triggered = await measured(server, runs, { ...options, seconds: loadSeconds, expect: 202 })
      // The last lines may still be in the pipe from the server.
      await new Promise(resolve => setTimeout(resolve, 500))
      const started = triggered.statuses[202] ?? 0
      const logBytes = (server.log().bytes - logBefore) / started
      const logLines = (server.log().lines.length - linesBefore) / started
      const afterLoad = rssBytes(pid)
      const floor = await floorRates(runs, options, memory)
      const percent = (rate: number, of: number): string => `${(rate / of * 100).toFixed(0)} %`
      const rows: Row[] = [
        { measure: `direct \`:run\` to the stand-in upstream, ${CONNECTIONS} connections`, value: perSecond(direct.rate) },
        { measure: 'jobgate GET /healthz', value: perSecond(health.rate), anchor: `${(health.rate / direct.rate).toFixed(2)}× direct; ${cpu(health)}` },
        {
          measure: `jobgate POST /v1/jobs/echo/runs (default log level, ${loadSeconds} s)`,
          value: perSecond(triggered.rate),
          anchor: [
            `${percent(triggered.rate, health.rate)} of /healthz, ${percent(triggered.rate, floor.runs.rate)} of the floor's, ${percent(triggered.rate, direct.rate)} of direct`,
            `${cpu(triggered)}; statuses ${JSON.stringify(triggered.statuses)}`
          ].join('; '),
          goal: { text: '≥ 50 % of /healthz', met: triggered.rate >= health.rate / 2 }
        },
        {
          measure: 'the floor: POST …/runs of a Fastify server that only makes the `:run` call (bench/lib/floor-server.ts)',
          value: perSecond(floor.runs.rate),
          anchor: `${percent(floor.runs.rate, floor.health.rate)} of its own /healthz (${perSecond(floor.health.rate)}): what one upstream call per request leaves; ${cpu(floor.runs)}`
        },
        { measure: 'log written per triggered run', value: `${Math.round(logBytes)} B in ${logLines.toFixed(2)} lines`, goal: { text: 'one line of ≤ 600 B', met: Math.abs(logLines - 1) < 0.005 && logBytes <= 600 } },
        { measure: `RSS after ${loadSeconds} s at ${CONNECTIONS} connections`, value: mib(afterLoad), anchor: within, goal: { text: '≤ 140 MiB', met: afterLoad <= 140 * 1048576 } }
      ]
      if (soakSeconds > 0) {
        // The soak: the same load on, RSS read at the end of each minute.
        const samples: number[] = []
        for (let at = 0; at < soakSeconds; at += 60) {
          await load(server.url, runs, { ...options, seconds: Math.min(60, soakSeconds - at), expect: 202 })
          samples.push(rssBytes(pid))
        }
        const first = samples[0] ?? afterLoad
        const last = samples.at(-1) ?? first
        rows.push({
          measure: `RSS over a ${soakSeconds} s soak of that load, at minutes ${samples.map((_, i) => i + 1).join(', ')}`,
          value: samples.map(mib).join(' → '),
          anchor: `${((last / first - 1) * 100).toFixed(1)} % from minute 1 to the last; ${mib(afterLoad)} before the soak`,
          goal: { text: 'no growth (≤ 5 % from minute 1)', met: last <= first * 1.05 }
        })
      }
      // 200 concurrent runs, each held 200 ms by the upstream: the pool, not the callers, decides how many sockets open.
      upstream.setDelay(200)
      upstream.resetPeak()
      const burst = await Promise.all(Array.from({ length: 200 }, async () => (await fetch(`${server.url}${runs.path}`, { method: 'POST', headers: runs.headers, body: RUN_BODY })).status))
      rows.push({
        measure: 'upstream sockets open at once, 200 concurrent POST …/runs',
        value: String(upstream.peakSockets()),
        anchor: `${burst.filter(status => status === 202).length} of 200 answered 202`,
        goal: { text: '≤ 32 (JOBGATE_UPSTREAM_CONNECTIONS)', met: upstream.peakSockets() <= 32 }
      })
      return rows
    } finally {
      await server.stop()
      await upstream.close()
      memory?.remove()
    }
  }
}
