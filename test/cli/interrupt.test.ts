import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { PassThrough } from 'node:stream'
import t from 'tap'
import { main } from '../../cli/main.js'
import { startFakeApi, type FakeApi } from './fake-api.js'
import { memorySink, noGoogle, quickRetries } from './helpers.js'

let api: FakeApi
t.before(async () => {
  api = await startFakeApi({
    jobs: { quick: { steps: () => [{ atMs: 0, state: 'RUNNING', running: 1 }, { atMs: 400, state: 'SUCCEEDED', succeeded: 1 }] } }
  })
})
t.teardown(() => api.close())

const until = async (condition: () => boolean): Promise<void> => {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise(resolve => setTimeout(resolve, 10))
  if (!condition()) throw new Error('condition never held')
}

interface Seen { stdout: string, stderr: string }
const started = ({ stderr }: Seen): boolean => stderr.includes('Started run')

/** Starts the CLI in-process, presses Ctrl-C once `ready` holds, answers the prompt (if any) with `answer`. */
async function interrupted (
  argv: string[],
  options: { isTTY: boolean, answer?: string | null, ready?: (seen: Seen) => boolean, url?: string }
) {
  const stdout = memorySink()
  const stderr = memorySink()
  const stdin = new PassThrough()
  const ctrlC = new AbortController()
  const done = main(argv, {
    stdout,
    stderr,
    stdin,
    isTTY: options.isTTY,
    columns: 120,
    signal: ctrlC.signal,
    env: { JOBGATE_URL: options.url ?? api.url },
    idTokenSource: noGoogle,
    retryPolicy: quickRetries
  })
  const ready = options.ready ?? started
  await until(() => ready({ stdout: stdout.text(), stderr: stderr.text() }))
  await new Promise(resolve => setTimeout(resolve, 100))
  ctrlC.abort()
  if (options.answer !== undefined) {
    await until(() => stderr.text().includes('? [y/N] '))
    if (options.answer === null) stdin.end()
    else stdin.write(`${options.answer}\n`)
  }
  const code = await done
  return { code, stdout: stdout.text(), stderr: stderr.text(), run: [...api.runs.keys()].at(-1) ?? '' }
}

const cancels = (name: string): number => api.requests.filter(r => r.method === 'POST' && r.path.endsWith(`${name}/cancel`)).length

t.test('TTY, Ctrl-C, "y": the run is cancelled and the exit code is 3', async t => {
  const { code, stderr, run } = await interrupted(['run', 'slow', '--wait'], { isTTY: true, answer: 'y' })
  t.equal(code, 3)
  t.match(stderr, `\x1b[2K\nCancel run ${run}? [y/N] `, 'the progress line is cleared before the question')
  t.match(stderr, `Cancelled run ${run} (state now CANCELLED). Check it with: jobgate status slow ${run} --wait`)
  t.equal(cancels(run), 1)
  t.equal(api.snapshot(run).state, 'CANCELLED')
})

t.test('TTY, Ctrl-C, Enter (no): stop waiting, say how to resume, exit 130, run untouched', async t => {
  const { code, stderr, run } = await interrupted(['run', 'slow', '--wait', '--logs'], { isTTY: true, answer: '' })
  t.equal(code, 130)
  t.match(stderr, `Run ${run} continues. Resume with: jobgate status slow ${run} --wait --logs`)
  t.equal(cancels(run), 0)
  t.equal(api.snapshot(run).state, 'RUNNING')
})

t.test('TTY, Ctrl-C, end of input: treated as no', async t => {
  const { code, run } = await interrupted(['status', 'slow', [...api.runs.keys()].at(-1) ?? '', '--wait'], { isTTY: true, answer: null, ready: ({ stderr }) => stderr.includes('RUNNING') })
  t.equal(code, 130)
  t.equal(cancels(run), 0)
})

t.test('not a TTY (CI): Ctrl-C just stops waiting, no question, exit 130 with the resume hint', async t => {
  const { code, stderr, run } = await interrupted(['run', 'slow', '--wait'], { isTTY: false })
  t.equal(code, 130)
  t.notMatch(stderr, '[y/N]')
  t.match(stderr, `Interrupted: stopped waiting.\nRun ${run} continues. Resume with: jobgate status slow ${run} --wait\n`)
  t.equal(cancels(run), 0)
})

t.test('TTY, "yes" but the cancel fails: say so, exit 130', async t => {
  api.inject({ path: /\/cancel$/, times: 1, fault: { status: 403, body: { error: { code: 403, status: 'PERMISSION_DENIED', message: 'may not cancel' } } } })
  const { code, stderr, run } = await interrupted(['run', 'slow', '--wait'], { isTTY: true, answer: 'YES' })
  t.equal(code, 130)
  t.match(stderr, `jobgate: could not cancel run ${run}: may not cancel`)
  t.match(stderr, 'Resume with:')
})

t.test('TTY, "y" after the run already ended: its own exit code', async t => {
  const stdout = memorySink()
  const stderr = memorySink()
  const stdin = new PassThrough()
  const ctrlC = new AbortController()
  const done = main(['run', 'quick', '--wait', '--json'], { stdout, stderr, stdin, isTTY: true, signal: ctrlC.signal, env: { JOBGATE_URL: api.url }, idTokenSource: noGoogle })
  await until(() => stderr.text().includes('Started run'))
  ctrlC.abort()
  await until(() => stderr.text().includes('[y/N]'))
  await new Promise(resolve => setTimeout(resolve, 500))
  stdin.write('y\n')
  t.equal(await done, 0)
  t.match(stderr.text(), /had already ended: SUCCEEDED/)
  t.match(JSON.parse(stdout.text()), { job: 'quick' }, '--json still prints the last Run seen')
})

t.test('logs --follow: Ctrl-C stops following (exit 130)', async t => {
  const name = [...api.runs.keys()].find(n => n.startsWith('slow') && api.snapshot(n).state === 'RUNNING') ?? ''
  const { code, stdout } = await interrupted(['logs', 'slow', name, '--follow'], { isTTY: false, ready: ({ stdout }) => stdout.includes('working') })
  t.equal(code, 130)
  t.equal(stdout, '[task 0] INFO working\n')
})

t.test('Ctrl-C before the API answered the POST: exit 130', async t => {
  const silent = createServer(() => {})
  await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { silent.closeAllConnections(); silent.close() })
  let asked = false
  silent.on('request', () => { asked = true })
  const { code, stderr } = await interrupted(['run', 'echo', '--wait'], { isTTY: false, ready: () => asked, url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}` })
  t.equal(code, 130)
  t.match(stderr, 'jobgate: interrupted.')
})

t.test('TTY, "y" on a run that had already FAILED: not "Cancelled", exit 1', async t => {
  const stdout = memorySink()
  const stderr = memorySink()
  const stdin = new PassThrough()
  const ctrlC = new AbortController()
  const done = main(['run', 'fail', '--wait'], { stdout, stderr, stdin, isTTY: true, signal: ctrlC.signal, env: { JOBGATE_URL: api.url }, idTokenSource: noGoogle })
  await until(() => stderr.text().includes('Started run'))
  const run = [...api.runs.keys()].at(-1) ?? ''
  ctrlC.abort()
  await until(() => stderr.text().includes('[y/N]'))
  // The answer comes after the run failed (at 300 ms): the cancel finds it already over.
  await until(() => api.snapshot(run).state === 'FAILED')
  stdin.write('y\n')
  t.equal(await done, 1, 'the failed run\'s exit code, not 3 (cancelled)')
  t.match(stderr.text(), `Run ${run} had already ended: FAILED.`)
  t.notMatch(stderr.text(), 'Cancelled run')
  t.equal(api.snapshot(run).state, 'FAILED', 'nothing was cancelled')
})
