import t from 'tap'
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { StubWorld, argv, flagValue, gitShortSha, repoRoot } from './stubs.js'

const script = join(repoRoot, 'build-deploy-job.sh')
const required = { PROJECT_ID: 'my-project', REGION: 'europe-west1', REPOSITORY: 'jobgate', JOB_NAME: 'echo-job' }

// A few dozen runs of the script: minutes on a loaded machine.
t.setTimeout(300_000)

const world = new StubWorld()
t.teardown(() => world.remove())
t.beforeEach(() => world.reset())

t.test('first run: creates what is missing, pushes and deploys one image reference', async t => {
  const result = world.run(script, { ...required, IMAGE_TAG: 'v1' })
  t.equal(result.status, 0, 'exits 0', { stderr: result.stderr })
  const image = 'europe-west1-docker.pkg.dev/my-project/jobgate/jobgate-job:v1'
  const account = 'jobgate-job@my-project.iam.gserviceaccount.com'
  t.same(result.calls.map(call => [call.tool, ...call.args]), [
    ['gcloud', 'artifacts', 'repositories', 'describe', 'jobgate', '--project', 'my-project', '--location', 'europe-west1'],
    ['gcloud', 'artifacts', 'repositories', 'create', 'jobgate', '--project', 'my-project', '--location', 'europe-west1',
      '--repository-format', 'docker', '--description', 'jobgate images'],
    ['gcloud', 'auth', 'configure-docker', 'europe-west1-docker.pkg.dev', '--quiet'],
    ['docker', 'buildx', 'build', '--push', '--platform', 'linux/amd64', '-f', 'Dockerfile.job', '-t', image, '.'],
    ['gcloud', 'iam', 'service-accounts', 'describe', account, '--project', 'my-project'],
    ['gcloud', 'iam', 'service-accounts', 'create', 'jobgate-job', '--project', 'my-project', '--display-name', 'jobgate companion job'],
    ['gcloud', 'run', 'jobs', 'deploy', 'echo-job', '--project', 'my-project', '--region', 'europe-west1',
      '--image', image, '--service-account', account, '--tasks', '1', '--max-retries', '3',
      '--task-timeout', '600s', '--parallelism', '0', '--quiet']
  ])
  const build = result.calls.find(call => call.tool === 'docker')
  const deploy = result.calls.find(call => argv(call).startsWith('gcloud run jobs deploy'))
  t.equal(flagValue(deploy, 'image'), build?.args[build.args.indexOf('-t') + 1], 'the deployed image is the pushed one')
  t.equal(build?.cwd, repoRoot, 'docker builds from the repository root')
})

t.test('a second run updates in place and creates nothing', async t => {
  t.equal(world.run(script, required).status, 0)
  const second = world.run(script, required)
  t.equal(second.status, 0, 'exits 0', { stderr: second.stderr })
  t.notOk(second.calls.some(call => call.args.includes('create')), 'no create call')
  t.ok(second.calls.some(call => argv(call).startsWith('gcloud run jobs deploy echo-job')), 'deploys again')
})

t.test('optional settings reach the job', async t => {
  const result = world.run(script, {
    ...required, TASKS: '4', MAX_RETRIES: '0', TASK_TIMEOUT: '1h', PARALLELISM: '2',
    IMAGE_NAME: 'companion', JOB_SERVICE_ACCOUNT: 'batch-runner'
  })
  t.equal(result.status, 0, 'exits 0', { stderr: result.stderr })
  const deploy = result.calls.find(call => argv(call).startsWith('gcloud run jobs deploy'))
  t.equal(flagValue(deploy, 'tasks'), '4')
  t.equal(flagValue(deploy, 'max-retries'), '0')
  t.equal(flagValue(deploy, 'task-timeout'), '1h')
  t.equal(flagValue(deploy, 'parallelism'), '2')
  t.equal(flagValue(deploy, 'service-account'), 'batch-runner@my-project.iam.gserviceaccount.com')
  t.equal(flagValue(deploy, 'image'), `europe-west1-docker.pkg.dev/my-project/jobgate/companion:${gitShortSha()}`,
    'IMAGE_TAG defaults to the git short sha')
})

t.test('--dry-run runs nothing and prints exactly what a run executes', async t => {
  const dry = world.run(script, { ...required, IMAGE_TAG: 'v1' }, ['--dry-run'])
  t.equal(dry.status, 0, 'exits 0', { stderr: dry.stderr })
  t.same(dry.calls, [], 'no gcloud or docker call')
  t.match(dry.stdout, /docker buildx build --push --platform linux\/amd64 -f Dockerfile\.job/)
  const replayed = world.runText(dry.stdout)
  t.equal(replayed.status, 0, 'exits 0', { stderr: replayed.stderr })
  world.reset()
  const real = world.run(script, { ...required, IMAGE_TAG: 'v1' })
  t.same(replayed.calls, real.calls, 'pasting the printed commands does what the script does')
})

t.test('each missing required variable is named, exits 2 and runs nothing', async t => {
  for (const name of Object.keys(required)) {
    const vars: Record<string, string> = { ...required }
    delete vars[name]
    const result = world.run(script, vars)
    t.equal(result.status, 2, `without ${name}`)
    t.match(result.stderr, name)
    t.same(result.calls, [], `nothing ran without ${name}`)
  }
  const none = world.run(script, {})
  t.equal(none.status, 2)
  t.match(none.stderr, 'missing required variable(s): PROJECT_ID REGION REPOSITORY JOB_NAME', 'all are listed at once')
  t.same(none.calls, [])
})

t.test('invalid values are refused before anything runs', async t => {
  const cases: Record<string, string> = {
    TASKS: '0', MAX_RETRIES: 'x', TASK_TIMEOUT: '10 minutes', PARALLELISM: '-1', IMAGE_TAG: 'a:b',
    JOB_NAME: 'Echo_Job', PROJECT_ID: 'p', REGION: 'europe', JOB_SERVICE_ACCOUNT: 'x'
  }
  for (const [name, value] of Object.entries(cases)) {
    const result = world.run(script, { ...required, [name]: value })
    t.equal(result.status, 2, `${name}=${value}`)
    t.match(result.stderr, `${name} must be`)
    t.same(result.calls, [])
  }
})

t.test('--help exits 0; an unknown argument exits 2', async t => {
  const help = world.run(script, {}, ['--help'])
  t.equal(help.status, 0)
  t.match(help.stdout, /Usage: build-deploy-job\.sh/)
  t.same(help.calls, [])
  const unknown = world.run(script, required, ['--push-harder'])
  t.equal(unknown.status, 2)
  t.match(unknown.stderr, 'unknown argument: --push-harder')
  t.same(unknown.calls, [])
})

t.test('outside a git checkout the tag is a UTC timestamp', async t => {
  const copy = mkdtempSync(join(tmpdir(), 'jobgate-nogit-'))
  t.teardown(() => rmSync(copy, { recursive: true, force: true }))
  for (const file of ['build-deploy-job.sh', 'build-deploy-common.sh', 'Dockerfile.job']) {
    copyFileSync(join(repoRoot, file), join(copy, file))
  }
  const result = world.run(join(copy, 'build-deploy-job.sh'), { ...required, GIT_CEILING_DIRECTORIES: tmpdir() })
  t.equal(result.status, 0, 'exits 0', { stderr: result.stderr })
  const deploy = result.calls.find(call => argv(call).startsWith('gcloud run jobs deploy'))
  t.match(flagValue(deploy, 'image'), /:\d{14}$/)
})

t.test('a failing step stops the script', async t => {
  const result = world.run(script, { ...required, STUB_FAIL_ALWAYS: 'buildx build' })
  t.not(result.status, 0)
  t.notOk(result.calls.some(call => argv(call).startsWith('gcloud run jobs deploy')), 'nothing deployed after a failed push')
})
