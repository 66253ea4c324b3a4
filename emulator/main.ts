/**
 * `npm run emulator`: the emulator on its own, for pointing tools at it.
 * PORT (default 8089), HOST (default 127.0.0.1), EMULATOR_JOBS (a JSON array of EmulatorJob;
 * default: the companion `echo` job in project `local-project`), EMULATOR_REGION, EMULATOR_PROJECT_ID.
 */
import { startEmulator, type EmulatorJob } from './index.js'

function fail (message: string): never {
  console.error(`emulator: ${message}`)
  process.exit(1)
}

function portOf (raw: string | undefined): number {
  if (raw === undefined || raw === '') return 8089
  const port = Number(raw)
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`PORT must be an integer in [0, 65535], got ${JSON.stringify(raw)}`)
  return port
}

function jobsOf (raw: string | undefined): EmulatorJob[] {
  if (raw === undefined || raw === '') return [{ project: 'local-project', name: 'echo' }]
  let jobs: unknown
  try {
    jobs = JSON.parse(raw)
  } catch (error) {
    fail(`EMULATOR_JOBS is not valid JSON: ${(error as Error).message}`)
  }
  if (!Array.isArray(jobs) || !jobs.every(job => typeof job === 'object' && job !== null && typeof job.project === 'string' && typeof job.name === 'string')) {
    fail('EMULATOR_JOBS must be a JSON array of jobs, each with at least "project" and "name" strings')
  }
  return jobs as EmulatorJob[]
}

const jobs = jobsOf(process.env.EMULATOR_JOBS)
const options = {
  host: process.env.HOST || '127.0.0.1',
  port: portOf(process.env.PORT),
  jobs,
  logger: (line: string) => console.log(`emulator: ${line}`),
  ...(process.env.EMULATOR_REGION ? { region: process.env.EMULATOR_REGION } : {}),
  ...(process.env.EMULATOR_PROJECT_ID ? { projectId: process.env.EMULATOR_PROJECT_ID } : {})
}
const emulator = await startEmulator(options).catch((error: Error) => fail(error.message))

console.log(`Cloud Run emulator listening on ${emulator.url} (project ${emulator.projectId}, number ${emulator.projectNumber}, region ${emulator.region})`)
console.log(`jobs: ${jobs.map(job => `${job.project}/${job.name}`).join(', ')}`)
console.log('Point tools at it with:')
console.log(`  export CLOUD_RUN_API_ENDPOINT=${emulator.url}`)
console.log(`  export CLOUD_LOGGING_API_ENDPOINT=${emulator.url}`)
console.log(`  export GCE_METADATA_HOST=${emulator.hostPort}`)
console.log(`gcloud run jobs … works too: emulator/README.md, "Works with gcloud", has the config commands (proxy/port ${new URL(emulator.url).port}).`)
const first = jobs[0]
if (first) {
  console.log('Try:')
  console.log(`  TOKEN=$(curl -s -H 'Metadata-Flavor: Google' ${emulator.url}/computeMetadata/v1/instance/service-accounts/default/token | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')`)
  console.log(`  curl -s -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' ${emulator.url}/apis/run.googleapis.com/v1/namespaces/${first.project}/jobs/${first.name}:run -d '{"overrides":{"containerOverrides":[{"args":["hello"],"env":[{"name":"TENANT_ID","value":"acme"}]}]}}'`)
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.log(`emulator: ${signal}, stopping tasks`)
    void emulator.close().then(() => process.exit(0))
  })
}
