import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** `npm run emulator` runs dist/emulator/main.js; these tests run that file as a real process. */
const main = fileURLToPath(new URL('../../dist/emulator/main.js', import.meta.url))

function start (env: Record<string, string>) {
  const child = spawn(process.execPath, [main], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const exited = new Promise<number | null>(resolve => child.on('close', code => resolve(code)))
  const output = async (pattern: RegExp): Promise<RegExpExecArray> => {
    for (let i = 0; i < 500; i++) {
      const match = pattern.exec(stdout)
      if (match) return match
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    throw new Error(`no ${pattern} in ${stdout}${stderr}`)
  }
  return { child, exited, output, get stdout () { return stdout }, get stderr () { return stderr } }
}

t.test('npm run emulator: prints where it listens and the variables to set, runs the echo job, stops on SIGTERM', async t => {
  const emulator = start({ PORT: '0' })
  t.teardown(() => { emulator.child.kill('SIGKILL') })
  const [, url] = await emulator.output(/listening on (http:\/\/127\.0\.0\.1:\d+) \(project local-project/)
  const hostPort = (url as string).slice('http://'.length)
  await emulator.output(/Works with gcloud/)
  t.match(emulator.stdout, `export CLOUD_RUN_API_ENDPOINT=${url}`)
  t.match(emulator.stdout, `export CLOUD_LOGGING_API_ENDPOINT=${url}`)
  t.match(emulator.stdout, `export GCE_METADATA_HOST=${hostPort}`)
  t.match(emulator.stdout, 'jobs: local-project/echo')
  t.match(emulator.stdout, `"Works with gcloud", has the config commands (proxy/port ${hostPort.split(':')[1] ?? ''})`)

  const token = await (await fetch(`${url}/computeMetadata/v1/instance/service-accounts/default/token`, { headers: { 'Metadata-Flavor': 'Google' } })).json() as { access_token: string }
  const run = await fetch(`${url}/apis/run.googleapis.com/v1/namespaces/local-project/jobs/echo:run`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token.access_token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ overrides: { containerOverrides: [{ env: [{ name: 'ECHO_SLEEP_MS', value: '20000' }] }] } })
  })
  t.equal(run.status, 200)
  await emulator.output(/task 0 attempt 0 started/)
  emulator.child.kill('SIGTERM')
  t.equal(await emulator.exited, 0)
  t.match(emulator.stdout, /SIGTERM, stopping tasks/)
  t.match(emulator.stdout, /task 0 attempt 0 ended \((code 143|code null, signal SIGTERM)/, 'the task was stopped with SIGTERM first')
  t.notMatch(emulator.stdout, token.access_token, 'the token was never printed')
})

t.test('EMULATOR_JOBS, EMULATOR_REGION and EMULATOR_PROJECT_ID configure it', async t => {
  const emulator = start({ PORT: '0', EMULATOR_JOBS: JSON.stringify([{ project: 'acme', name: 'nightly' }]), EMULATOR_REGION: 'asia-east1', EMULATOR_PROJECT_ID: 'acme' })
  t.teardown(() => { emulator.child.kill('SIGKILL') })
  await emulator.output(/\(project acme, number \d+, region asia-east1\)/)
  await emulator.output(/jobs: acme\/nightly/)
  emulator.child.kill('SIGINT')
  t.equal(await emulator.exited, 0)
})

t.test('bad configuration stops it with one line naming the variable', async t => {
  for (const [env, message] of [
    [{ PORT: 'eighty' }, /PORT must be an integer/],
    [{ EMULATOR_JOBS: '{' }, /EMULATOR_JOBS is not valid JSON/],
    [{ EMULATOR_JOBS: '[{"name":"x"}]' }, /EMULATOR_JOBS must be a JSON array of jobs/],
    [{ PORT: '0', EMULATOR_JOBS: '[{"project":"p","name":"BAD"}]' }, /emulator: job name "BAD" is not a valid/]
  ] as const) {
    const emulator = start(env)
    t.equal(await emulator.exited, 1, JSON.stringify(env))
    t.match(emulator.stderr, message)
    t.equal(emulator.stderr.trim().split('\n').length, 1, 'one line')
  }
})
