import t, { type Test } from 'tap'
import { readFileSync } from 'node:fs'
import type { LogEntry, V1Execution, V1Job } from '../../emulator/index.js'
import { client, fetchToken, runPath, startTestEmulator, type Client } from '../emulator/helpers.js'
import { gcloudFor, gcloudOnPath, type GcloudResult } from '../helpers/gcloud-cli.js'

/**
 * Real gcloud (`gcloud run jobs …`, `gcloud logging read`) against the emulator, unchanged: each
 * command exits as it would against Cloud Run, never with "gcloud crashed", and every run's
 * overrides show in the job's own log output, read back with `gcloud logging read`.
 * gcloud takes a CPU second or more to start, so independent commands run a few at a time and
 * the resources are checked through the Run API directly rather than with more gcloud calls.
 */

const project = 'gcloud-project'
const image = 'us-docker.pkg.dev/cloudrun/container/job:latest'

function ok (t: Test, result: GcloudResult, what: string): void {
  t.equal(result.code, 0, `${what}: exit 0 ${result.code === 0 ? '' : result.stderr}`)
  t.notMatch(result.stderr, /gcloud crashed/, `${what}: gcloud did not crash`)
}

function payloads (entries: LogEntry[], message: string): any[] {
  return entries.map(e => e.jsonPayload).filter(p => p?.message === message) as any[]
}

const envOf = (job: V1Job): Record<string, string | undefined> =>
  Object.fromEntries((job.spec.template.spec.template.spec.containers[0]?.env ?? []).map(e => [e.name, e.value]))

/** One `gcloud run jobs execute`, and how its overrides must show in its tasks' log lines. */
interface Run {
  job: string
  flags: string[]
  code: number
  logs: (t: Test, entries: LogEntry[]) => void
  execution?: (t: Test, execution: V1Execution) => void
}

const runs: Run[] = [
  { job: 'echo', flags: ['--wait', '--args=hello,world'], code: 0, logs: (t, entries) => t.same(payloads(entries, 'args').map(p => p.args), [['hello', 'world']]) },
  { job: 'echo', flags: ['--wait', '--update-env-vars=TENANT_ID=acme'], code: 0, logs: (t, entries) => t.same(payloads(entries, 'env').map(p => p.env.TENANT_ID), ['acme']) },
  { job: 'echo', flags: ['--wait', '--tasks=2'], code: 0, logs: (t, entries) => t.same(payloads(entries, 'task').map(p => `${p.taskIndex as number}/${p.taskCount as number}`).sort(), ['0/2', '1/2']) },
  // sleepy sleeps 4 s with a 2 s task timeout: without an override its tasks are stopped (a failing execution)...
  {
    job: 'sleepy',
    flags: ['--wait'],
    code: 1,
    logs: (t, entries) => t.equal(payloads(entries, 'done').length, 0, 'no task got to the end'),
    execution: (t, execution) => t.match(execution.status.conditions.find(c => c.type === 'Completed'), { status: 'False', reason: 'NonZeroExitCode', message: /The configured timeout was reached/ })
  },
  // ...and with --task-timeout they sleep and finish.
  {
    job: 'sleepy',
    flags: ['--wait', '--task-timeout=60s'],
    code: 0,
    logs: (t, entries) => t.equal(payloads(entries, 'done').length, 3, 'every task slept and finished'),
    execution: (t, execution) => t.equal(execution.spec.template.spec.timeoutSeconds, '60')
  },
  {
    job: 'sleepy',
    flags: ['--wait', '--args=all,together', '--update-env-vars=TENANT_ID=globex', '--tasks=2', '--task-timeout=60s'],
    code: 0,
    logs: (t, entries) => {
      t.same(payloads(entries, 'args').map(p => p.args), [['all', 'together'], ['all', 'together']])
      t.same(payloads(entries, 'env').map(p => [p.env.TENANT_ID, p.env.A]), [['globex', '1'], ['globex', '1']], 'the override joins the job\'s env')
      t.same(payloads(entries, 'task').map(p => `${p.taskIndex as number}/${p.taskCount as number}`).sort(), ['0/2', '1/2'])
      t.equal(payloads(entries, 'done').length, 2, 'both tasks slept and finished')
    }
  },
  {
    job: 'echo',
    flags: ['--wait', '--update-env-vars=ECHO_EXIT_CODE=3'],
    code: 1,
    logs: (t, entries) => t.same(payloads(entries, 'exiting with ECHO_EXIT_CODE').map(p => p.exitCode), [3]),
    execution: (t, execution) => t.match(execution.status.conditions.find(c => c.type === 'Completed'), { status: 'False', reason: 'NonZeroExitCode', message: /exit code 3/ })
  }
]

async function main (binary: string): Promise<void> {
  // A safety net only: gcloud is CPU-bound at start, and on a 2-core machine busy with other suites a command can take 10 s.
  t.setTimeout(480_000)
  const emulator = await startTestEmulator(t, { projectId: project, jobs: [{ project, name: 'echo', maxRetries: 0 }] })
  const gcloud = await gcloudFor(binary, emulator, project, fn => t.teardown(fn), 4)
  const api: Client = client(emulator, await fetchToken(emulator))
  const job = async (name: string): Promise<V1Job> => (await api<V1Job>('GET', runPath(project, `jobs/${name}`))).body

  // Each run is started as soon as its job is ready, so gcloud's polling overlaps the other commands.
  const results = new Map<Run, Promise<GcloudResult>>()
  const startRuns = (job: string): void => {
    for (const run of runs.filter(candidate => candidate.job === job)) results.set(run, gcloud('run', 'jobs', 'execute', run.job, ...run.flags))
  }
  startRuns('echo')

  t.test('the README lists every property the test sets', async t => {
    const readme = readFileSync(new URL('../../emulator/README.md', import.meta.url), 'utf8')
    for (const property of Object.keys(gcloud.properties)) t.match(readme, `gcloud config set ${property} `, property)
  })

  t.test('jobs: list, describe, create, update (--tasks, --set-env-vars), deploy, delete', async t => {
    const [listed, described, created] = await Promise.all([
      gcloud.json<V1Job[]>('run', 'jobs', 'list'),
      gcloud('run', 'jobs', 'describe', 'echo'),
      gcloud('run', 'jobs', 'create', 'sleepy', `--image=${image}`, '--task-timeout=2s', '--max-retries=0', '--set-env-vars=ECHO_SLEEP_MS=4000')
    ])
    t.ok(listed.some(job => job.metadata.name === 'echo'), 'list shows the configured job') // sleepy may be there already
    ok(t, described, 'describe')
    t.match(described.stdout, /Job echo in region us-central1/)
    t.match(described.stdout, /Last updated on \S+ by \d+-compute@developer\.gserviceaccount\.com/)
    ok(t, created, 'create')
    t.match(await job('sleepy'), { metadata: { generation: 1 }, spec: { template: { metadata: {}, spec: { template: { spec: { maxRetries: 0, timeoutSeconds: '2', containers: [{ image, env: [{ name: 'ECHO_SLEEP_MS', value: '4000' }] }] } } } } } })

    // Each update reads the job, changes it, and replaces it whole (PUT): nothing else may change.
    ok(t, await gcloud('run', 'jobs', 'update', 'sleepy', '--tasks=3'), 'update --tasks')
    t.match(await job('sleepy'), { metadata: { generation: 2 }, status: { observedGeneration: 2 }, spec: { template: { spec: { taskCount: 3, template: { spec: { maxRetries: 0, timeoutSeconds: '2', containers: [{ image }] } } } } } })
    ok(t, await gcloud('run', 'jobs', 'update', 'sleepy', '--set-env-vars=ECHO_SLEEP_MS=4000,A=1'), 'update --set-env-vars')
    startRuns('sleepy')
    const updated = await job('sleepy')
    t.equal(updated.metadata.generation, 3)
    t.same(envOf(updated), { ECHO_SLEEP_MS: '4000', A: '1' })
    t.equal(updated.spec.template.spec.taskCount, 3, 'the task count stayed')

    ok(t, await gcloud('run', 'jobs', 'deploy', 'deployed', `--image=${image}`, '--set-env-vars=B=2'), 'deploy (create)')
    t.same(envOf(await job('deployed')), { B: '2' })
    ok(t, await gcloud('run', 'jobs', 'delete', 'deployed'), 'delete')
    t.equal((await api('GET', runPath(project, 'jobs/deployed'))).status, 404, 'deleted')
  })

  t.test('execute --async, then executions cancel, list, describe, delete', async t => {
    const started = await gcloud('run', 'jobs', 'execute', 'echo', '--async', '--update-env-vars=ECHO_SLEEP_MS=60000')
    ok(t, started, 'execute --async')
    const name = /executions describe (\S+)/.exec(started.stderr)?.[1] ?? ''
    t.match(name, /^echo-[a-z0-9]{5}$/)
    ok(t, await gcloud('run', 'jobs', 'executions', 'cancel', name), 'cancel')
    const cancelled = emulator.executions(project, 'echo').find(e => e.metadata.name === name)
    t.match(cancelled?.status, { cancelledCount: 1, conditions: [{ type: 'Completed', status: 'False', reason: 'Cancelled' }] })
    t.equal(payloads(emulator.logEntries().filter(e => e.labels['run.googleapis.com/execution_name'] === name), 'env')[0]?.env.ECHO_SLEEP_MS, '60000', 'the override reached the task')

    const [listed, described] = await Promise.all([
      gcloud.json<V1Execution[]>('run', 'jobs', 'executions', 'list', '--job=echo'),
      gcloud('run', 'jobs', 'executions', 'describe', name)
    ])
    // Other echo runs may be starting meanwhile: the list shows this one, and nothing the emulator lacks.
    const known = emulator.executions(project, 'echo').map(e => e.metadata.name)
    t.ok(listed.some(e => e.metadata.name === name), 'the list shows it')
    t.same(listed.filter(e => !known.includes(e.metadata.name)), [], 'and only executions of echo')
    ok(t, described, 'executions describe')
    t.match(described.stdout, /1 task cancelled/)
    t.match(described.stdout, /ECHO_SLEEP_MS +60000/)
    ok(t, await gcloud('run', 'jobs', 'executions', 'delete', name), 'executions delete')
    t.notOk(emulator.executions(project, 'echo').some(e => e.metadata.name === name), 'gone')
  })

  const names: string[] = []
  t.test('execute --wait with each override flag, with all of them, and failing', async t => {
    const finished = await Promise.all(runs.map(run => results.get(run) ?? { code: -1, stdout: '', stderr: 'never started' }))
    for (const [i, run] of runs.entries()) {
      const result = finished[i] as GcloudResult
      const what = `execute ${run.job} ${run.flags.join(' ')}`
      t.equal(result.code, run.code, `${what}: exit ${run.code} ${result.code === run.code ? '' : result.stderr}`)
      t.notMatch(result.stderr, /gcloud crashed/, `${what}: gcloud did not crash`)
      const name = /executions describe (\S+)/.exec(result.stderr)?.[1] ?? ''
      names.push(name)
      const execution = emulator.executions(project, run.job).find(e => e.metadata.name === name)
      t.ok(execution, `${what}: created ${name}`)
      if (execution && run.execution) run.execution(t, execution)
    }
    t.equal(new Set(names).size, runs.length, 'one execution per command')
  })

  t.test('executions tasks list and describe show the failed run\'s task, its state and exit code', async t => {
    const failed = names[runs.length - 1] as string
    const [listed, described] = await Promise.all([
      gcloud('run', 'jobs', 'executions', 'tasks', 'list', `--execution=${failed}`),
      gcloud('run', 'jobs', 'executions', 'tasks', 'describe', `${failed}-task0`)
    ])
    ok(t, listed, 'tasks list')
    // INDEX STATE TASK STARTED COMPLETED RETRIES, one row per task.
    t.match(listed.stdout, new RegExp(`\\b0\\s+Failed\\s+${failed}-task0\\s+\\d{4}-\\d\\d-\\d\\d \\S+ UTC\\s+\\d{4}-\\d\\d-\\d\\d \\S+ UTC\\s+0\\s*$`, 'm'))
    ok(t, described, 'tasks describe')
    t.match(described.stdout, /Running state:\s+Failed/)
    t.match(described.stdout, /Exit Code:\s+3\n\s+Message:\s+The container exited with an error \(exit code 3\)/)
    t.match(described.stdout, /Max Retries:\s+0/)
  })

  t.test('gcloud logging read shows every run\'s overrides in the job\'s log output', async t => {
    const entries = await gcloud.json<LogEntry[]>('logging', 'read', 'resource.type="cloud_run_job"', '--limit=1000')
    t.ok(entries.length > 0)
    for (const [i, run] of runs.entries()) {
      const name = names[i] as string
      t.test(`${name}: ${run.flags.join(' ')}`, async t => run.logs(t, entries.filter(e => e.labels['run.googleapis.com/execution_name'] === name)))
    }
    t.ok(gcloud.invocations() <= 22, `${gcloud.invocations()} gcloud commands in all`)
  })
}

const binary = gcloudOnPath()
if (binary === undefined) {
  console.log('skipped: gcloud not installed')
  t.plan(0, 'skipped: gcloud not installed')
} else {
  await main(binary)
}
