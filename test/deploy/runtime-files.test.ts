// Replays the runtime stage of Dockerfile.api in a temp directory (no Docker engine here):
// the build output's dist/, package.json and package-lock.json, `npm ci --omit=dev`, the image's
// ENV, then the image's ENTRYPOINT. The API must answer /healthz and the job must print its
// JSON lines: proof that no dev dependency and no source file is needed at run time.
import t from 'tap'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import module from 'node:module'
import { freePort } from '../../common/free-port.js'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { copiesOf, envOf, execForm, instructions, lastValue, parseDockerfile, type Stage } from './dockerfile.js'
import { repoRoot } from './stubs.js'

t.setTimeout(900_000) // a TypeScript build plus an `npm ci` from the registry: 5 minutes on a loaded machine

const finalStage = (file: string): { stages: Stage[], runtime: Stage } => {
  const stages = parseDockerfile(readFileSync(join(repoRoot, file), 'utf8'))
  return { stages, runtime: stages.at(-1) as Stage }
}
const api = finalStage('Dockerfile.api')
const job = finalStage('Dockerfile.job')

const work = mkdtempSync(join(tmpdir(), 'jobgate-runtime-'))
const buildDir = join(work, 'build') // stands for the build stage's WORKDIR
const appDir = join(work, 'app') // stands for the runtime stage's WORKDIR
t.teardown(() => rmSync(work, { recursive: true, force: true }))

function sh (command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): void {
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout: 240_000 })
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${result.stdout}\n${result.stderr}`)
}

// The build stage's `npm run build`, written to a private outDir so that tests reading the
// repository's dist/ at the same time are not disturbed.
function build (): void {
  sh('npm', ['run', 'build', '--', '--outDir', join(buildDir, 'dist')], repoRoot)
}

// The runtime stage's COPY and `npm ci` steps, in order, into appDir.
function replayRuntimeStage (runtime: Stage, stages: Stage[]): void {
  mkdirSync(appDir, { recursive: true })
  for (const instruction of runtime.instructions) {
    if (instruction.keyword === 'COPY') {
      const [copy] = copiesOf({ ...runtime, instructions: [instruction] })
      if (copy === undefined) continue
      const builderDir = lastValue(stages.find(stage => stage.name === copy.from) ?? runtime, 'WORKDIR') ?? '/'
      for (const source of copy.sources) {
        const from = copy.from === undefined ? join(repoRoot, source) : join(buildDir, relative(builderDir, source))
        const to = copy.destination.endsWith('/') ? join(appDir, copy.destination, source.replace(/^.*\//, '')) : join(appDir, copy.destination)
        cpSync(from, to, { recursive: true })
      }
    }
    if (instruction.keyword === 'RUN') {
      // The npm ci steps and the node ones (the compile cache warm-up): `npm cache clean --force` would wipe this machine's npm cache.
      for (const step of instruction.args.split('&&').map(part => part.trim()).filter(part => part.startsWith('npm ci') || part.startsWith('node '))) {
        sh('bash', ['-c', step], appDir, imageEnv(runtime, {}))
      }
    }
  }
}

// The image's compile cache directory (/home/node/…), moved into the replay's folder.
const compileCache = join(work, 'node-compile-cache')
// Only what the image sets, plus PATH/HOME: no K_SERVICE or GOOGLE_CLOUD_PROJECT, so local mode.
const imageEnv = (runtime: Stage, extra: Record<string, string>): Record<string, string> => {
  const image = envOf(runtime)
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: appDir, ...image, ...(image.NODE_COMPILE_CACHE !== undefined && { NODE_COMPILE_CACHE: compileCache }), ...extra }
}

const entrypoint = (runtime: Stage): string[] => execForm(lastValue(runtime, 'ENTRYPOINT') ?? '') ?? []

t.test('the runtime stage can be replayed', async t => {
  t.same(instructions(job.runtime, 'COPY'), instructions(api.runtime, 'COPY'), 'both images hold the same files')
  t.same(instructions(job.runtime, 'RUN'), instructions(api.runtime, 'RUN'))
  build()
  replayRuntimeStage(api.runtime, api.stages)
  t.ok(existsSync(join(appDir, 'node_modules')), 'production dependencies installed')
  for (const dev of ['typescript', 'tap', 'eslint']) {
    t.notOk(existsSync(join(appDir, 'node_modules', dev)), `dev dependency ${dev} is absent`)
  }
  t.notOk(existsSync(join(appDir, 'api')), 'no TypeScript sources')
  // The warm-up ran both entry points (it fails when one does not start); Node 20 has no compile cache to fill.
  if ('enableCompileCache' in module) t.ok(existsSync(compileCache) && readdirSync(compileCache).length > 0, 'the compile cache is filled at build time')
})

t.test('the API starts in local mode and answers /healthz', async t => {
  const [command = 'node', ...args] = entrypoint(api.runtime)
  const serverFile = join(appDir, args[0] ?? '')
  if (!existsSync(serverFile)) {
    t.fail(`${relative(appDir, serverFile)} is missing from the build output: api/server.ts must compile to it (docs/api.md, How it starts)`)
    return
  }
  const port = await freePort()
  let output = ''
  const server: ChildProcess = spawn(command, args, { cwd: appDir, env: imageEnv(api.runtime, { PORT: String(port), HOST: '127.0.0.1' }) })
  server.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  server.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const exited = new Promise<number | null>(resolve => server.once('exit', code => { resolve(code) }))
  t.teardown(() => { server.kill('SIGKILL') })

  let status = 0
  const deadline = Date.now() + 30_000
  while (status !== 200 && Date.now() < deadline && server.exitCode === null) {
    status = await fetch(`http://127.0.0.1:${port}/healthz`).then(response => response.status, () => 0)
    if (status !== 200) await new Promise(resolve => setTimeout(resolve, 100))
  }
  t.equal(status, 200, 'GET /healthz → 200', { output })

  // Cloud Run stops an instance with SIGTERM; node is PID 1 in the image, so it must exit by itself.
  server.kill('SIGTERM')
  const code = await Promise.race([exited, new Promise(resolve => setTimeout(() => { resolve('still running') }, 10_000))])
  t.equal(code, 0, 'exits 0 within 10 s of SIGTERM', { output })
})

t.test('the job prints its arguments and environment as JSON lines', async t => {
  const [command = 'node', ...args] = entrypoint(job.runtime)
  const mainFile = join(appDir, args[0] ?? '')
  if (!existsSync(mainFile)) {
    t.fail(`${relative(appDir, mainFile)} is missing from the build output: job/main.ts must compile to it (docs/api.md, How it starts)`)
    return
  }
  // What Cloud Run passes: a run's args override lands after the ENTRYPOINT, plus the task context.
  const result = spawnSync(command, [...args, 'hello', 'two words'], {
    cwd: appDir,
    encoding: 'utf8',
    timeout: 30_000,
    env: imageEnv(job.runtime, {
      CLOUD_RUN_JOB: 'echo-job', CLOUD_RUN_EXECUTION: 'echo-job-x7k2p', CLOUD_RUN_TASK_INDEX: '0',
      CLOUD_RUN_TASK_COUNT: '1', CLOUD_RUN_TASK_ATTEMPT: '0'
    })
  })
  t.equal(result.status, 0, 'exits 0', { stderr: result.stderr })
  const lines = result.stdout.split('\n').filter(line => line.trim() !== '')
  const records = lines.map(line => { try { return JSON.parse(line) as Record<string, unknown> } catch { return undefined } })
  t.ok(records.length > 0 && records.every(record => record !== undefined), 'every stdout line is one JSON object', { stdout: result.stdout })
  const argsLine = records.find(record => record?.message === 'args')
  const envLine = records.find(record => record?.message === 'env')
  t.same(argsLine?.args, ['hello', 'two words'], 'the args line carries the arguments')
  t.type(envLine?.env, 'object', 'an env line with an env object')
})
