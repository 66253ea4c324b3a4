// Every distinct gcloud command line the scripts produce is handed to the real gcloud CLI, with
// an empty configuration (no account) and the metadata server pointed at a closed loopback
// port, so nothing leaves the machine: gcloud parses the whole command line, then stops at "no active account". A usage
// error (a wrong flag, a flag clash such as --set-secrets with --clear-secrets) exits 2 instead.
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { StubWorld, repoRoot, type Call } from './stubs.js'

t.setTimeout(600_000) // gcloud needs one to two seconds to start, idle; tens of seconds on a loaded machine

const world = new StubWorld()
const gcloudHome = mkdtempSync(join(tmpdir(), 'jobgate-gcloud-'))
t.teardown(() => { world.remove(); rmSync(gcloudHome, { recursive: true, force: true }) })

const catalogFile = join(world.dir, 'jobs.json')
writeFileSync(catalogFile, JSON.stringify({ jobs: { echo: { job: 'echo-job' }, report: { project: 'other-project', region: 'us-east1' } } }))
const base = { PROJECT_ID: 'my-project', REGION: 'europe-west1', REPOSITORY: 'jobgate', CATALOG_FILE: catalogFile }
const runs: Array<[string, Record<string, string>]> = [
  ['build-deploy-job.sh', { ...base, JOB_NAME: 'echo-job', PARALLELISM: '2' }],
  ['build-deploy-api.sh', { ...base, JOBGATE_AUTH: 'google', JOBGATE_AUDIENCE: 'https://a.run.app', INVOKERS: 'user:me@example.com' }],
  ['build-deploy-api.sh', { ...base, JOBGATE_AUTH: 'apikey', JOBGATE_API_KEYS_SECRET: 'keys:2', ALLOW_UNAUTHENTICATED: 'true', LOG_LEVEL: 'debug' }],
  ['build-deploy-api.sh', { ...base, JOBGATE_AUTH: 'google', JOBGATE_AUDIENCE: 'https://a.run.app', JOBGATE_IDEMPOTENCY: 'firestore',
    JOBGATE_EVENTS_TOPIC: 'projects/my-project/topics/run-events' }]
]

// One representative per shape: the command words plus the set of flags used.
function shape (call: Call): string {
  const words = call.args.slice(0, call.args.findIndex(arg => arg.startsWith('-')))
  const flags = call.args.filter(arg => arg.startsWith('--')).sort()
  return [...words.slice(0, -1), ...flags].join(' ')
}

const commands = new Map<string, string[]>()
for (const [script, vars] of runs) {
  world.reset()
  const result = world.run(join(repoRoot, script), vars)
  if (result.status !== 0) throw new Error(`${script} failed under the stubs: ${result.stderr}`)
  for (const call of result.calls.filter(call => call.tool === 'gcloud')) commands.set(shape(call), call.args)
}

const env = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: gcloudHome, // `gcloud auth configure-docker` writes $HOME/.docker/config.json
  CLOUDSDK_CONFIG: join(gcloudHome, 'gcloud'),
  // Any metadata-server probe goes to a closed loopback port, never to the network.
  CLOUDSDK_CORE_CHECK_GCE_METADATA: 'false',
  NO_GCE_CHECK: 'True',
  GCE_METADATA_ROOT: '127.0.0.1:1',
  GCE_METADATA_HOST: '127.0.0.1:1',
  GCE_METADATA_IP: '127.0.0.1:1',
  CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
  CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: 'true',
  CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: 'true'
}

async function gcloud (args: string[]): Promise<{ status: number | null, stderr: string }> {
  return new Promise(resolve => {
    const child = spawn('gcloud', args, { env, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    child.on('error', error => { resolve({ status: -1, stderr: String(error) }) })
    child.on('close', status => { resolve({ status, stderr }) })
  })
}

t.test('the real gcloud accepts every command line the scripts run', async t => {
  if (spawnSync('gcloud', ['--version'], { env, stdio: 'ignore' }).status !== 0) {
    t.fail('gcloud is not installed: this test checks the scripts\' command lines against the real CLI')
    return
  }
  t.ok(commands.size >= 17, `${commands.size} distinct command shapes`)
  const pending = [...commands.values()]
  const workers = Array.from({ length: 2 }, async () => {
    for (let args = pending.shift(); args !== undefined; args = pending.shift()) {
      const { status, stderr } = await gcloud(args)
      const accepted = status === 0 || (status === 1 && /active account|credentials/i.test(stderr))
      t.ok(accepted, `gcloud ${args.slice(0, 4).join(' ')} …`, { status, stderr, args })
    }
  })
  await Promise.all(workers)
})
