// The GitHub Action's committed bundle, run as the runner runs it (INPUT_* variables, GITHUB_OUTPUT and
// GITHUB_STEP_SUMMARY files), against jobgate in local mode. action.yml says node24; the bundle targets Node 20.18,
// so this machine's Node runs the same file.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import t from 'tap'
import { build } from '../helper.js'
import { startWorkloadIdentityStandIn } from '../helpers/wif-standin.js'
import { runStep, workflowCommands } from './runner.js'

const stack = await build(t, { env: { JOBGATE_MODE: 'local' }, listen: true })
const runCalls = (): number => stack.emulator.requests.filter(request => request.method === 'POST' && request.path.endsWith(':run')).length

t.test('a run that succeeds: outputs, masked secrets, log lines in a group that obeys no command, the job summary', async t => {
  const step = await runStep({
    url: stack.url,
    job: 'echo',
    env: 'TENANT_ID=acme\nAPI_TOKEN=s3cr3t-value\n',
    args: '::error::not an annotation\nsecond',
    tasks: '2',
    timeout: '5m'
  })
  t.equal(step.code, 0, step.log + step.stderr)
  const { run } = step.outputs
  t.match(run, /^echo-[a-z0-9]{5}$/)
  t.same(step.outputs, { run, state: 'SUCCEEDED', 'succeeded-count': '2', 'failed-count': '0', 'log-url': step.outputs['log-url'] })
  t.equal(step.outputs['log-url'], `${stack.url}/v1/jobs/echo/runs/${run}/logs`, 'local mode has no Cloud Console page: jobgate\'s logs route')

  t.same(workflowCommands(step.log, 'add-mask'), ['::add-mask::s3cr3t-value'], 'a secret-looking env value is masked')
  t.equal(workflowCommands(step.log, 'error').length, 0)
  const lines = step.log.split('\n')
  const group = lines.indexOf(`::group::jobgate: run ${run as string} of echo`)
  const stop = /^::stop-commands::(\S+)$/.exec(lines[group + 1] ?? '')?.[1]
  t.ok(group >= 0 && stop !== undefined, 'the log lines are in a group, with workflow commands stopped')
  const resume = lines.indexOf(`::${stop ?? ''}::`)
  t.equal(lines[resume + 1], '::endgroup::')
  const inside = lines.slice(group + 2, resume)
  t.ok(inside.some(line => line.includes('[task 1] INFO args args=["::error::not an annotation","second"]')), 'a job\'s line that looks like a command is only shown')
  t.ok(inside.some(line => /echo-\w+ +SUCCEEDED/.test(line)), 'progress lines')
  t.match(lines.slice(resume).join('\n'), /Run echo-\w+ SUCCEEDED: 2 of 2 tasks\./)

  t.match(step.summary, new RegExp(`^### jobgate: run \`${run as string}\` of \`echo\`\\n`))
  t.match(step.summary, /\| ✅ SUCCEEDED \| 2 succeeded, 0 failed, 0 running, 0 cancelled of 2 \| 0 \|/)
  t.match(step.summary, /#### Tasks\n\n\| task \| state \| attempts \| exit code \| started \| duration \| why \|\n\| --- (\| --- )*\|\n\| 0 \| SUCCEEDED \| 1 \| 0 \|/)
  t.match(step.summary, /#### Last \d+ log lines\n\n```text\n\d{4}-\d\d-\d\dT[\d:.]+Z \[task \d\] INFO /)
  t.equal((step.summary + step.log).split('s3cr3t-value').length, 2, 'the secret is printed once: in its mask')
})

t.test('a failed run fails the step with an annotation per failed task: attempts and exit code', async t => {
  const step = await runStep({ url: stack.url, job: 'echo', env: 'ECHO_EXIT_CODE=3', tasks: '2', logs: 'false' })
  t.equal(step.code, 1)
  t.match(step.outputs, { state: 'FAILED', 'succeeded-count': '0', 'failed-count': '2' })
  t.same(workflowCommands(step.log, 'error'), [0, 1].map(index => `::error title=jobgate%3A run ${step.outputs.run as string} failed::task ${index} failed after 4 attempts: exit code 3`))
  t.notMatch(step.log, /\] INFO /, 'logs: false prints no log line')
  t.match(step.summary, /\| 1 \| FAILED \| 4 \| 3 \| \S+ \| \d+s \| exit code 3 \|/)
  t.match(step.summary, /#### Last \d+ log lines\n\n```text\n/, 'the summary still has the last lines')
})

t.test('bad input: one clear annotation, and no run started', async t => {
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['an unknown input', { url: stack.url, job: 'echo', 'wait-timout': '10m' }, /^::error title=jobgate%3A bad input::unknown input 'wait-timout' \(this action takes: url, job, env, args, tasks, timeout, wait, wait-timeout, logs, api-key, id-token-audience\)$/],
    ['a malformed env line', { url: stack.url, job: 'echo', env: 'GOOD=1\nAPI_TOKEN s3cr3t' }, /^::error title=jobgate%3A bad input::input 'env', line 2: expected NAME=value/],
    ['a missing url', { job: 'echo' }, /^::error title=jobgate%3A bad input::missing input 'url': the jobgate api, e\.g\. https/]
  ]
  for (const [what, inputs, annotation] of cases) {
    const before = runCalls()
    const step = await runStep(inputs)
    t.equal(step.code, 1, what)
    const errors = workflowCommands(step.log, 'error')
    t.equal(errors.length, 1, `${what}: one annotation`)
    t.match(errors[0], annotation, what)
    t.same(step.outputs, {}, `${what}: no outputs`)
    t.equal(runCalls(), before, `${what}: nothing started`)
    t.notMatch(step.log, 's3cr3t', `${what}: the bad line's value is not repeated`)
  }
})

t.test('api-key: masked before anything else is printed, sent as X-API-Key; wait: false returns at once', async t => {
  const before = stack.emulator.requests.length
  const step = await runStep({ url: stack.url, job: 'echo', 'api-key': 'jg-key-0123456789', wait: 'false' })
  t.equal(step.code, 0, step.log)
  t.equal(step.log.split('\n')[0], '::add-mask::jg-key-0123456789')
  t.equal(step.log.split('jg-key-0123456789').length, 2, 'the key appears once: in its mask')
  t.match(step.outputs, { state: /^(PENDING|RUNNING)$/, 'failed-count': '0' })
  t.notMatch(step.log, '::group::', 'not waiting: no log group')
  t.ok(stack.emulator.requests.length > before)
})

t.test('id-token-audience: a Google ID token from the Workload Identity Federation file google-github-actions/auth leaves', async t => {
  const wif = await startWorkloadIdentityStandIn()
  const dir = mkdtempSync(`${tmpdir()}/jobgate-wif-`)
  t.teardown(async () => { await wif.close(); rmSync(dir, { recursive: true, force: true }) })
  const audience = 'https://jobgate-abc123-ew.a.run.app'
  const step = await runStep({ url: stack.url, job: 'echo', 'id-token-audience': audience, wait: 'false' }, { GOOGLE_APPLICATION_CREDENTIALS: wif.credentialsFile(dir) })
  t.equal(step.code, 0, step.log + step.stderr)
  t.same(wif.idTokenAudiences(), [audience])
  t.same(workflowCommands(step.log, 'add-mask'), [`::add-mask::${wif.idTokenFor(audience)}`], 'the minted token is masked')

  const before = runCalls()
  const none = await runStep({ url: stack.url, job: 'echo', 'id-token-audience': audience }, { GOOGLE_APPLICATION_CREDENTIALS: `${dir}/missing.json` })
  t.equal(none.code, 1)
  t.match(workflowCommands(none.log, 'error'), [/^::error title=jobgate%3A credentials::no Google ID token for audience https:\/\/jobgate-abc123-ew\.a\.run\.app: Unable to read the credential file/])
  t.equal(runCalls(), before, 'no credentials: nothing started')
})
