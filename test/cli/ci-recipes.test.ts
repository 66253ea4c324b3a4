// docs/ci.md's three recipes, run as written against jobgate in local mode: the GitHub workflow (its run: steps
// in bash, the jobgate action as the runner runs it), the Cloud Build step (substitutions, then its bash), and the
// GitLab job (its script lines in bash). The files they download are served from here, as a release would serve them.
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { parse } from 'yaml'
import { build } from '../helper.js'
import { startStandIn } from '../helpers/http-standin.js'
import { startMetadataStandIn } from '../helpers/metadata-standin.js'
import { runProcess } from '../helpers/run-process.js'
import { startWorkloadIdentityStandIn } from '../helpers/wif-standin.js'
import { parseOutputs, REPO, runStep } from '../action/runner.js'

const doc = readFileSync(join(REPO, 'docs/ci.md'), 'utf8')
/** The fenced YAML block whose first line is `# <file>`. */
const recipe = (file: string): any => {
  const block = [...doc.matchAll(/```yaml\n(# ([^\n]+)\n[\s\S]*?)```/g)].find(match => match[2] === file)
  if (block === undefined) throw new Error(`docs/ci.md has no \`\`\`yaml block starting with "# ${file}"`)
  return parse(block[1] as string)
}

// A safety net only: each recipe starts node, bash, curl and npm, which a loaded 2-core machine makes slow.
t.setTimeout(360_000)
const work = mkdtempSync(join(tmpdir(), 'jobgate-ci-recipes-'))
t.teardown(() => rmSync(work, { recursive: true, force: true }))
const stack = await build(t, { env: { JOBGATE_MODE: 'local', JOBGATE_JOBS: JSON.stringify({ jobs: { migrate: {} } }) }, listen: true })
const SHA = '3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a'
// A clean environment; npm's own cache (HOME) and offline-first reads keep the install off the network.
const baseEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? work, CLOUDSDK_CONFIG: join(work, 'gcloud'), npm_config_prefer_offline: 'true' }

/** The release files, served over HTTP with their SHA-256, as a pipeline fetches them. */
// `npm test` built cli/dist first: prepack need not build it again.
const packed = await runProcess('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: join(REPO, 'cli'), env: baseEnv })
if (packed.code !== 0) throw new Error(`npm pack: ${packed.stderr}`)
const tarball = readFileSync(join(work, (JSON.parse(packed.stdout) as [{ filename: string }])[0].filename))
const single = readFileSync(join(REPO, 'cli/dist/jobgate-standalone.mjs'))
const releases = await startStandIn((request, response) => {
  const body = request.url === '/jobgate-cli.tgz' ? tarball : request.url === '/jobgate.mjs' ? single : undefined
  response.writeHead(body === undefined ? 404 : 200).end(body)
})
t.teardown(() => releases.close())
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')

/** The env the migrate run was started with, by run name. */
const runEnv = (name: string): Record<string, string | undefined> => {
  const execution = stack.emulator.executions(undefined, 'migrate').find(candidate => candidate.metadata.name === name)
  return Object.fromEntries((execution?.spec.template.spec.containers[0]?.env ?? []).map(variable => [variable.name, variable.value]))
}
const newestRun = (): string => stack.emulator.executions(undefined, 'migrate')[0]?.metadata.name ?? ''

interface WorkflowStep { id?: string, uses?: string, with?: Record<string, string>, run?: string, env?: Record<string, string> }

t.test('the GitHub workflow: Workload Identity Federation, the action, its outputs in a later step', async t => {
  const workflow = recipe('.github/workflows/deploy.yml')
  const steps = workflow.jobs.migrate.steps as WorkflowStep[]
  const wif = await startWorkloadIdentityStandIn()
  t.teardown(() => wif.close())
  const vars: Record<string, string> = {
    'vars.JOBGATE_URL': stack.url,
    'vars.WIF_PROVIDER': 'projects/123/locations/global/workloadIdentityPools/github/providers/my-repo',
    'vars.DEPLOY_SERVICE_ACCOUNT': 'deployer@my-project.iam.gserviceaccount.com',
    'github.sha': SHA
  }
  const outputs: Record<string, Record<string, string>> = {}
  const expand = (text: string): string => text.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_, expression: string) => {
    const output = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(expression)
    const value = output === null ? vars[expression] : outputs[output[1] as string]?.[output[2] as string]
    if (value === undefined) throw new Error(`the workflow uses \${{ ${expression} }}, which this test does not provide`)
    return value
  })
  const runnerEnv: Record<string, string> = {}
  let logs = ''
  for (const step of steps) {
    const inputs = Object.fromEntries(Object.entries(step.with ?? {}).map(([name, value]) => [name, expand(String(value))]))
    if (step.uses?.startsWith('google-github-actions/auth@') === true) {
      t.match(inputs, { workload_identity_provider: /^projects\//, service_account: /@/ })
      t.notOk('token_format' in inputs, 'the action mints its own ID token from the credentials file')
      runnerEnv.GOOGLE_APPLICATION_CREDENTIALS = wif.credentialsFile(work)
    } else if (step.uses !== undefined && /^[\w-]+\/jobgate@/.test(step.uses)) {
      t.match(step.uses, /@[0-9a-f]{40}$/, 'the action is pinned to a full commit SHA')
      const result = await runStep(inputs, runnerEnv)
      logs += result.log
      t.equal(result.code, 0, result.log + result.stderr)
      outputs[step.id ?? ''] = result.outputs
    } else if (step.run !== undefined) {
      const outputFile = join(work, 'github-output')
      writeFileSync(outputFile, '')
      const result = await runProcess('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', expand(step.run)], { cwd: work, env: { ...baseEnv, ...runnerEnv, GITHUB_OUTPUT: outputFile } })
      t.equal(result.code, 0, result.stderr)
      logs += result.stdout
      outputs[step.id ?? ''] = parseOutputs(readFileSync(outputFile, 'utf8'))
    } else {
      t.fail(`a step this test cannot run: ${JSON.stringify(step)}`)
    }
  }
  const run = outputs.migrate?.run ?? ''
  t.match(runEnv(run), { RELEASE: SHA, TENANT_ID: 'acme' })
  t.match(logs, /\[task 0\] INFO args args=\["--to=latest"\]/)
  t.match(logs, `migrated by run ${run} (SUCCEEDED, 1 tasks); deploying ${SHA}`)
  t.same(wif.idTokenAudiences(), [stack.url], 'an ID token for the audience the workflow names')
})

t.test('the Cloud Build step: substitutions, the pinned tarball, an ID token from the metadata server', async t => {
  const { steps, substitutions } = recipe('cloudbuild.yaml') as { steps: Array<{ id: string, entrypoint: string, args: string[], env?: string[] }>, substitutions: Record<string, string> }
  const metadata = await startMetadataStandIn()
  t.teardown(() => metadata.close())
  // What `gcloud builds submit --substitutions=…` and a trigger give: the file's own values, then these.
  const values: Record<string, string> = { ...substitutions, PROJECT_ID: 'my-project', COMMIT_SHA: SHA, _JOBGATE_URL: stack.url, _JOBGATE_CLI_URL: `${releases.url}/jobgate-cli.tgz`, _JOBGATE_CLI_SHA256: sha256(tarball) }
  const substitute = (text: string): string => text.replace(/\$\$|\$\{?([A-Z_][A-Z0-9_]*)\}?/g, (whole, name?: string) => {
    if (whole === '$$') return '$'
    const value = values[name ?? '']
    if (value === undefined) throw new Error(`Cloud Build would reject $${name ?? ''}: no such substitution`)
    return value
  })
  const migrate = steps.find(step => step.id === 'migrate')
  t.equal(migrate?.entrypoint, 'bash')
  const env = Object.fromEntries((migrate?.env ?? []).map(pair => substitute(pair).split(/=(.*)/s).slice(0, 2) as [string, string]))
  const project = mkdtempSync(join(work, 'workspace-'))
  const result = await runProcess('bash', (migrate?.args ?? []).map(substitute), { cwd: project, env: { ...baseEnv, GCE_METADATA_HOST: metadata.host, ...env } })
  t.equal(result.code, 0, result.stdout + result.stderr)
  t.match(result.stdout, /^\d{4}-\d\d-\d\dT[\d:.]+Z \[task 0\] INFO env /m, '--logs --timestamps')
  t.match(runEnv(newestRun()), { RELEASE: SHA })
  t.ok(metadata.identityAudiences().includes(stack.url), 'the build\'s service account\'s ID token, from the metadata server')
  t.ok(steps.filter(step => step.id !== 'migrate').every(step => step.entrypoint === 'gcloud'), 'the other step only deploys (not run here)')
})

t.test('the GitLab job: the single file, checked, with the API key from a CI/CD variable', async t => {
  const job = recipe('.gitlab-ci.yml').migrate as { variables: Record<string, string>, script: string[] }
  // Project CI/CD variables win over the file's, as in GitLab; CI_COMMIT_SHA is GitLab's own.
  const variables = { ...job.variables, JOBGATE_URL: stack.url, JOBGATE_CLI_URL: `${releases.url}/jobgate.mjs`, JOBGATE_CLI_SHA256: sha256(single), JOBGATE_API_KEY: 'gl-key', CI_COMMIT_SHA: SHA }
  const project = mkdtempSync(join(work, 'gitlab-'))
  const result = await runProcess('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', job.script.join('\n')], { cwd: project, env: { ...baseEnv, ...variables } })
  t.equal(result.code, 0, result.stdout + result.stderr)
  t.match(result.stderr, /Run migrate-\w+ SUCCEEDED/)
  t.match(runEnv(newestRun()), { RELEASE: SHA })
  const tampered = await runProcess('bash', ['-eo', 'pipefail', '-c', job.script.join('\n')], { cwd: project, env: { ...baseEnv, ...variables, JOBGATE_CLI_SHA256: sha256(tarball) } })
  t.not(tampered.code, 0, 'a file that does not match its SHA-256 is not run')
})
