import { pino } from 'pino'
import { buildApp } from '../../api/app.js'
import { loadConfig } from '../../api/config.js'
import { createServices } from '../../api/services.js'
import type { Row, Scenario } from '../scenario.js'
import { median, ms, p90 } from '../lib/stats.js'

async function json (url: string, init?: RequestInit): Promise<any> {
  const response = await fetch(url, init)
  return await response.json()
}

const timed = async <T>(samples: number[], work: () => Promise<T>): Promise<T> => {
  const started = performance.now()
  const result = await work()
  samples.push(performance.now() - started)
  return result
}

const row = (measure: string, samples: number[], anchor?: string): Row =>
  ({ measure, value: `${ms(median(samples))} (p90 ${ms(p90(samples))})`, ...(anchor !== undefined && { anchor }) })

export const scenario: Scenario = {
  name: 'local',
  about: 'local mode with its emulator: a run\'s overrides reaching the logs route, and the same `:run` / `executions.get` made directly vs through jobgate, interleaved',
  async run ({ samples }) {
    const runs = samples * 2
    const services = await createServices(loadConfig({ JOBGATE_MODE: 'local', LOG_LEVEL: 'silent' }), { logger: pino({ level: 'silent' }) })
    const app = await buildApp(services)
    await app.listen({ port: 0, host: '127.0.0.1' })
    const address = app.server.address()
    const api = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
    const { emulator } = services
    if (emulator === undefined) throw new Error('local mode has an emulator')
    try {
      const { access_token: token } = await json(`${emulator.url}/computeMetadata/v1/instance/service-accounts/default/token`, { headers: { 'metadata-flavor': 'Google' } })
      const post = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      const runBody = { args: ['bench'], env: { TENANT_ID: 'acme' }, taskCount: 1 }
      const toLogs: number[] = []
      const toDone: number[] = []
      for (let i = 0; i < runs; i++) {
        const started = performance.now()
        const run = await json(`${api}/v1/jobs/echo/runs`, post(runBody))
        for (;;) {
          const logs = await json(`${api}/v1/jobs/echo/runs/${run.name as string}/logs`)
          if (logs.entries.some((entry: any) => entry.payload?.env?.TENANT_ID === 'acme')) break
          await new Promise(resolve => setTimeout(resolve, 20))
        }
        toLogs.push(performance.now() - started)
        await json(`${api}/v1/jobs/echo/runs/${run.name as string}?wait=30`)
        toDone.push(performance.now() - started)
      }
      // Each run is waited out so no task competes for the CPU with the next measurement.
      const directRun: number[] = []
      const viaRun: number[] = []
      const directGet: number[] = []
      const viaGet: number[] = []
      const emulatorRunBody = { overrides: { containerOverrides: [{ args: ['bench'], env: [{ name: 'TENANT_ID', value: 'acme' }] }], taskCount: 1 } }
      const authorized = { authorization: `Bearer ${token as string}` }
      const namespace = `${emulator.url}/apis/run.googleapis.com/v1/namespaces/local-project`
      let finished = ''
      for (let i = 0; i < runs; i++) {
        const direct = await timed(directRun, async () => await json(`${namespace}/jobs/echo:run`, { method: 'POST', headers: { 'content-type': 'application/json', ...authorized }, body: JSON.stringify(emulatorRunBody) }))
        await emulator.waitForExecution(direct.metadata.name)
        const via = await timed(viaRun, async () => await json(`${api}/v1/jobs/echo/runs`, post(runBody)))
        await emulator.waitForExecution(via.name)
        finished = via.name
      }
      for (let i = 0; i < runs * 10; i++) {
        await timed(directGet, async () => await json(`${namespace}/executions/${finished}`, { headers: authorized }))
        await timed(viaGet, async () => await json(`${api}/v1/jobs/echo/runs/${finished}`))
      }
      return [
        row(`POST run → overrides visible in GET …/logs (${runs} runs)`, toLogs),
        row('POST run → SUCCEEDED (1 task)', toDone),
        row('`:run` direct to the emulator', directRun),
        row('POST /v1/jobs/echo/runs via jobgate', viaRun, `${(median(viaRun) / median(directRun)).toFixed(2)}× direct`),
        row(`\`executions.get\` direct to the emulator (${runs * 10} reads)`, directGet),
        row('GET /v1/jobs/echo/runs/{run} via jobgate', viaGet, `${(median(viaGet) / median(directGet)).toFixed(2)}× direct`)
      ]
    } finally {
      await app.close()
      await services.close()
    }
  }
}
