// The action's parts in this process, against the CLI's stand-in API: each way a step can end, and the pieces that
// write the log, the outputs and the summary. test/action/step.test.ts runs the bundle itself against local mode.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { inputVariable, readInputs } from '../../action/inputs.js'
import { runAction } from '../../action/run-action.js'
import { StepFiles } from '../../action/step-files.js'
import { jobSummary, SUMMARY_TASKS } from '../../action/summary.js'
import { WorkflowCommands } from '../../action/workflow-commands.js'
import type { Run, RunTask } from '../../cli/types.js'
import { closedPort } from '../helpers/misbehaving-server.js'
import { startFakeApi, type FakeApi } from '../cli/fake-api.js'
import { memorySink, quickRetries } from '../cli/helpers.js'
import { parseOutputs, workflowCommands } from './runner.js'

const dir = mkdtempSync(join(tmpdir(), 'jobgate-action-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
let api: FakeApi
t.before(async () => {
  api = await startFakeApi({ jobs: { broken: { steps: (_, n) => [{ atMs: 0, state: 'PENDING' }, { atMs: 50, state: 'FAILED', failed: n }] } } })
})
t.teardown(() => api.close())

const inputsEnv = (inputs: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries({ wait: 'true', logs: 'true', ...inputs }).map(([name, value]) => [inputVariable(name), value]))

/** One step in this process: its log, outputs and summary. */
interface Step { code: number, log: string, outputs: Record<string, string>, summary: string }

async function step (inputs: Record<string, string>, env: Record<string, string> = {}): Promise<Step> {
  const files = { GITHUB_OUTPUT: join(dir, `output-${Math.random()}`), GITHUB_STEP_SUMMARY: join(dir, `summary-${Math.random()}`) }
  for (const file of Object.values(files)) writeFileSync(file, '')
  const stdout = memorySink()
  const code = await runAction({ env: { ...files, ...inputsEnv({ url: api.url, ...inputs }), ...env }, stdout, retryPolicy: quickRetries })
  return { code, log: stdout.text(), outputs: parseOutputs(readFileSync(files.GITHUB_OUTPUT, 'utf8')), summary: readFileSync(files.GITHUB_STEP_SUMMARY, 'utf8') }
}

t.test('inputs: every problem at once, none repeating a value; defaults; lines trimmed, blank ones skipped', async t => {
  const bad = readInputs({
    ...inputsEnv({ url: 'ftp://host', job: ' ', tasks: '0', timeout: '5 minutes', wait: 'yes', 'wait-timeout': '-1', logs: 'no', 'api-key': 'k', 'id-token-audience': 'a' }),
    INPUT_ZZZ: '1',
    INPUT_AAA: '2'
  })
  t.same('problems' in bad ? bad.problems.map(problem => problem.replace(/ \(this action takes.*$/, '')) : [], [
    'unknown input \'aaa\'',
    'unknown input \'zzz\'',
    'input \'url\': expected an http(s) URL',
    'missing input \'job\': the catalog job to run',
    'input \'tasks\': expected a whole number ≥ 1',
    'input \'timeout\': expected a duration like 90, 90s, 15m or 1h30m',
    'input \'wait\': expected true or false',
    'input \'wait-timeout\': expected a duration like 90, 90s, 15m or 1h30m',
    'input \'logs\': expected true or false',
    'give api-key or id-token-audience, not both'
  ])
  t.same(readInputs({ [inputVariable('url')]: 'not a url', [inputVariable('job')]: 'echo' }), { problems: ['input \'url\': expected an http(s) URL'] })
  const good = readInputs({
    [inputVariable('url')]: ' https://jobgate.example/ ',
    [inputVariable('job')]: 'echo',
    [inputVariable('env')]: '\n  A=1 \r\nB=x=y\n\n',
    [inputVariable('args')]: ' --day \n\n2026-11-23',
    [inputVariable('wait-timeout')]: '1h30m',
    [inputVariable('logs')]: 'False'
  })
  t.match(good, { inputs: { job: 'echo', env: { A: '1', B: 'x=y' }, args: ['--day', '2026-11-23'], wait: true, logs: false, waitTimeoutSeconds: 5400, taskCount: undefined } })
  t.equal('inputs' in good ? good.inputs.url.href : '', 'https://jobgate.example/')
})

t.test('workflow commands escape what the runner would read as their end; masks go line by line', async t => {
  const sink = memorySink()
  const commands = new WorkflowCommands(sink)
  commands.error('100% done\r\nnext', 'a: b, c')
  commands.addMask('line one\n\n  \nline two')
  t.equal(sink.text(), '::error title=a%3A b%2C c::100%25 done%0D%0Anext\n::add-mask::line one\n::add-mask::line two\n')
  const files = new StepFiles({}, commands)
  files.output('run', 'x')
  files.summary('# nothing')
  t.match(sink.text(), '::warning title=jobgate%3A outputs::GITHUB_OUTPUT is not set: output run is not written\n')
})

t.test('the summary: a fence no log line can close, table cells that stay cells, at most 100 tasks', async t => {
  const run = api.snapshot((await step({ job: 'echo', wait: 'false' })).outputs.run ?? '')
  const tasks: RunTask[] = Array.from({ length: SUMMARY_TASKS + 5 }, (_, index) => ({ index, state: 'SUCCEEDED', attempts: 1, exitCode: 0, links: { logs: '' } }))
  const markdown = jobSummary({
    job: 'echo',
    run: { ...run, message: 'a | b\nc' } satisfies Run,
    tasks,
    lastLines: [{ timestamp: '2026-11-23T10:00:00Z', severity: 'INFO', taskIndex: 0, message: 'see ```` here' }],
    stillRunning: true,
    now: Date.now()
  })
  t.match(markdown, '(still running: the step stopped waiting)')
  t.match(markdown, '> a \\| b c')
  t.match(markdown, `The first ${SUMMARY_TASKS} of ${SUMMARY_TASKS + 5} tasks.`)
  t.equal(markdown.split('\n').filter(line => /^\| \d+ \| SUCCEEDED/.test(line)).length, SUMMARY_TASKS)
  t.match(markdown, /\n`````text\n.*see ```` here\n`````\n$/)
})

t.test('wait-timeout: the step fails, says the run continues; outputs say where it stands', async t => {
  const result = await step({ job: 'slow', 'wait-timeout': '1' })
  t.equal(result.code, 1)
  t.match(workflowCommands(result.log, 'error'), [/^::error title=jobgate%3A wait-timeout::stopped waiting \(wait-timeout\): run slow-job-\d+ is still RUNNING and continues$/])
  t.match(result.outputs, { state: 'RUNNING' })
  t.match(result.summary, '⏳ RUNNING (still running: the step stopped waiting)')
})

t.test('a run cancelled while the step waits fails the step', async t => {
  const before = api.runs.size
  const waiting = step({ job: 'slow', logs: 'false' })
  for (let i = 0; i < 1000 && api.runs.size === before; i++) await new Promise(resolve => setTimeout(resolve, 10))
  const name = [...api.runs.values()].filter(run => run.job === 'slow').at(-1)?.name ?? ''
  await fetch(`${api.url}/v1/jobs/slow/runs/${name}/cancel`, { method: 'POST' })
  const result = await waiting
  t.equal(result.code, 1)
  t.match(workflowCommands(result.log, 'error'), [/^::error title=jobgate%3A run cancelled::run slow-job-\d+ was cancelled/])
  t.match(result.outputs, { state: 'CANCELLED' })
})

t.test('a failed run: ten annotations at most; a server without the tasks route gets Cloud Run\'s message', async t => {
  const many = await step({ job: 'broken', tasks: '12', logs: 'false' })
  t.equal(many.code, 1)
  const errors = workflowCommands(many.log, 'error')
  t.equal(errors.length, 11)
  t.match(errors.at(-1), /::and more failed tasks: see the job summary$/)

  api.inject({ path: /\/tasks$/, times: 10, fault: { status: 404, body: { error: { code: 404, status: 'NOT_FOUND', message: 'no route' } } } })
  const older = await step({ job: 'fail', logs: 'false' })
  t.equal(older.code, 1)
  t.match(workflowCommands(older.log, 'error'), [/::Task fail-job-\d+-task0 failed with message: The container exited with an error \(exit code 3\)\.$/])
  t.notMatch(older.summary, '#### Tasks', 'no task table without tasks')
})

t.test('API, network and credential failures: one annotation each, the step fails', async t => {
  const missing = await step({ job: 'nope' })
  t.equal(missing.code, 1)
  t.same(workflowCommands(missing.log, 'error'), ['::error title=jobgate%3A API error::starting a run of nope: NOT_FOUND 404: job "nope" is not in jobgate\'s catalog'])

  const down = await step({ job: 'echo', url: `http://127.0.0.1:${await closedPort()}` })
  t.equal(down.code, 1)
  t.match(workflowCommands(down.log, 'error'), [/^::error title=jobgate%3A network error::starting a run of echo: network error \(ECONNREFUSED\)/])

  api.inject({ method: 'GET', path: /\/runs\/[^/]+$/, times: 50, fault: { status: 500, body: { error: { code: 500, status: 'INTERNAL', message: 'boom' } } } })
  const lost = await step({ job: 'slow', logs: 'false' })
  t.equal(lost.code, 1)
  t.match(workflowCommands(lost.log, 'error'), [/^::error title=jobgate%3A API error::following run slow-job-\d+ \(it may still be going\): INTERNAL 500: boom$/])
  t.match(lost.outputs, { run: /^slow-job-/, state: 'PENDING' })

  const token = await step({ job: 'echo', 'id-token-audience': 'https://x' }, {})
  t.equal(token.code, 1)
  t.match(workflowCommands(token.log, 'error'), [/^::error title=jobgate%3A credentials::no Google ID token for audience https:\/\/x: /])
})

t.test('a Google ID token from the source given: masked once, sent as Bearer', async t => {
  const tokens = await startFakeApi({ bearerToken: 'eyJ.id.token' })
  t.teardown(() => tokens.close())
  const stdout = memorySink()
  const code = await runAction({
    env: inputsEnv({ url: tokens.url, job: 'echo', 'id-token-audience': 'https://jobgate.example', wait: 'true' }),
    stdout,
    idTokenSource: async audience => audience === 'https://jobgate.example' ? 'eyJ.id.token' : 'wrong',
    retryPolicy: quickRetries
  })
  t.equal(code, 0, stdout.text())
  t.same(workflowCommands(stdout.text(), 'add-mask'), ['::add-mask::eyJ.id.token'])
  t.match(stdout.text(), '::warning title=jobgate%3A outputs::GITHUB_OUTPUT is not set')
})
