// What the real `jobgate` process loads: neither the undici package nor google-auth-library when an API key is the credential.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { moduleTrace, type ModuleTrace } from '../helpers/module-trace.js'
import { startFakeApi } from './fake-api.js'

const bin = fileURLToPath(new URL('../../bin/jobgate.js', import.meta.url))

async function traced (args: string[], env: Record<string, string>): Promise<{ code: number | null, stderr: string, trace: ModuleTrace }> {
  const trace = moduleTrace()
  const child = spawn(process.execPath, [...trace.nodeArgs, bin, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', CLOUDSDK_CONFIG: '/nonexistent', ...trace.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe']
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  return { code, stderr, trace }
}

t.test('run --wait with an API key loads neither undici nor google-auth-library', async t => {
  const api = await startFakeApi({ apiKey: 'ci-key' })
  t.teardown(() => api.close())
  const { code, stderr, trace } = await traced(['run', 'echo', '--wait'], { JOBGATE_URL: api.url, JOBGATE_API_KEY: 'ci-key' })
  t.equal(code, 0, stderr)
  t.ok(trace.loaded().some(url => url.endsWith('/dist/cli/main.js')), 'the trace sees the CLI itself')
  t.notOk(trace.hasPackage('undici'), 'Node\'s built-in fetch, not the undici package')
  t.notOk(trace.hasPackage('google-auth-library'), 'no Google credential in use, so no Google library')
})

t.test('--version loads no package at all', async t => {
  const { code, trace } = await traced(['--version'], {})
  t.equal(code, 0)
  t.same(trace.loaded().filter(url => url.includes('/node_modules/')), [])
})

t.test('without an API key, Application Default Credentials do load google-auth-library', async t => {
  const { trace } = await traced(['jobs'], { JOBGATE_URL: 'https://jobgate.example.invalid' })
  t.ok(trace.hasPackage('google-auth-library'), 'the trace would see the library if it were loaded')
})
