import { ApiProblem, api, runPath } from './api.js'
import { watchRun } from './run-watch.js'
import { ENDED, describePayload, duration, when } from './format.js'
import { taskTable } from './tasks.js'
import { badge, h, show } from './view.js'

/** The DOM keeps at most this many log lines; the API keeps them all. */
const MAX_LOG_LINES = 2000

function logLine (entry) {
  const severity = entry.severity.toLowerCase()
  return h('li', { class: `log-${severity}` },
    h('time', { datetime: entry.timestamp }, when(entry.timestamp).slice(11)), ' ',
    h('span', { class: 'task' }, entry.taskIndex === undefined ? '' : `task ${entry.taskIndex}`), ' ',
    h('span', { class: 'severity' }, entry.severity), ' ',
    h('span', { class: 'message' }, entry.message), ' ',
    h('span', { class: 'payload' }, describePayload(entry.payload)))
}

/** The args and env the first reporting task echoed, next to what this browser sent, if it started the run. */
function receivedView (received, sent) {
  const argsPart = received.args === undefined
    ? h('p', {}, 'Waiting for a task to echo its args…')
    : received.args.length === 0 ? h('p', {}, 'No args.') : h('ol', { class: 'args' }, received.args.map(arg => h('li', {}, h('code', {}, arg))))
  const sentArgs = sent?.args
  const argsVerdict = sentArgs === undefined || received.args === undefined
    ? null
    : h('p', { class: JSON.stringify(sentArgs) === JSON.stringify(received.args) ? 'ok' : 'bad' },
        JSON.stringify(sentArgs) === JSON.stringify(received.args) ? 'These are the args you sent.' : 'These differ from the args you sent.')
  const env = received.env
  const sentEnv = Object.entries(sent?.env ?? {})
  const verdict = (name, value) => {
    if (env === undefined) return 'waiting'
    if (!Object.hasOwn(env, name)) return 'missing'
    if (env[name] === value) return 'arrived'
    return env[name] === '[REDACTED]' ? 'arrived (value redacted in logs)' : `differs: ${env[name]}`
  }
  const overrides = sentEnv.length === 0
    ? null
    : h('table', { class: 'overrides' },
        h('caption', {}, 'The env overrides you sent'),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Sent'), h('th', { scope: 'col' }, 'In the task'))),
        h('tbody', {}, sentEnv.map(([name, value]) => {
          const result = verdict(name, value)
          // A value the job redacts is a secret: not shown here either.
          const shown = env?.[name] === '[REDACTED]' ? '[REDACTED]' : value
          return h('tr', {}, h('th', { scope: 'row' }, name), h('td', {}, h('code', {}, shown)),
            h('td', { class: result.startsWith('arrived') ? 'ok' : result === 'waiting' ? '' : 'bad' }, result))
        })))
  const all = env === undefined
    ? h('p', {}, 'Waiting for a task to echo its env…')
    : h('details', { open: sentEnv.length === 0 },
        h('summary', {}, `All ${Object.keys(env).length} variables task ${received.envTask} saw`),
        h('table', { class: 'env' }, h('tbody', {}, Object.keys(env).sort().map(name =>
          h('tr', {}, h('th', { scope: 'row' }, name), h('td', {}, h('code', {}, env[name])))))))
  return [h('h3', {}, 'Args'), argsPart, argsVerdict, h('h3', {}, 'Env'), overrides, all]
}

/** One run: live state, task progress, log lines, what the tasks received, and cancel. */
export async function runPage (ctx, job, name) {
  const { signal } = ctx
  let run = await api(runPath(job, name), { signal })
  const sent = JSON.parse(sessionStorage.getItem(`jobgate.sent.${job}.${name}`) ?? 'null')
  const received = {}
  const state = h('p', { class: 'state', role: 'status' })
  const facts = h('dl', { class: 'facts' })
  const progress = h('progress', { id: 'progress', max: 1, value: 0 })
  const progressText = h('span', { id: 'progress-text' })
  const cancel = h('button', { type: 'button', class: 'danger' }, 'Cancel run…')
  const cancelStatus = h('span', { role: 'status' })
  const receivedSection = h('div', { class: 'received' })
  const log = h('ol', { class: 'log', role: 'log', 'aria-labelledby': 'log-title' })
  const tasks = taskTable(job, name, signal)

  let shownState
  const render = () => {
    // Announced by screen readers: only when it changes.
    const label = `${run.state} ${run.position ?? ''}`
    if (label !== shownState) { shownState = label; state.replaceChildren('State: ', badge(run.state, run.position)) }
    const rows = [['Job', job], ['Created', when(run.createTime)], ['Started', when(run.startTime)], ['Finished', when(run.completionTime)], ['Duration', duration(run)]]
    if (run.message !== undefined) rows.push(['Message', run.message])
    facts.replaceChildren(...rows.flatMap(([term, detail]) => [h('dt', {}, term), h('dd', {}, detail)]))
    const done = run.succeededCount + run.failedCount + run.cancelledCount
    progress.max = Math.max(run.taskCount, 1)
    progress.value = done
    const retried = run.retriedCount > 0 ? ` · ${run.retriedCount} retried` : ''
    progressText.textContent = `${run.succeededCount} succeeded · ${run.failedCount} failed · ${run.runningCount} running · ${run.cancelledCount} cancelled · of ${run.taskCount}${retried}`
    cancel.hidden = ENDED.has(run.state)
    tasks.update(run)
  }
  const renderReceived = () => receivedSection.replaceChildren(...receivedView(received, sent).filter(Boolean))
  const onLog = entry => {
    if (entry.message === 'args' && received.args === undefined && Array.isArray(entry.payload?.args)) { received.args = entry.payload.args; renderReceived() }
    if (entry.message === 'env' && received.env === undefined && typeof entry.payload?.env === 'object') { received.env = entry.payload.env; received.envTask = entry.taskIndex ?? 0; renderReceived() }
    log.append(logLine(entry))
    if (log.childElementCount > MAX_LOG_LINES) log.firstElementChild.remove()
  }

  cancel.addEventListener('click', async () => {
    if (!await ctx.confirm(`Run ${name} of job ${job} will be stopped; its running tasks get SIGTERM.`)) return
    cancel.disabled = true
    cancelStatus.textContent = 'Cancelling…'
    try {
      run = await api(`${runPath(job, name)}/cancel`, { method: 'POST', signal })
      cancelStatus.textContent = 'Cancel requested.'
      render()
    } catch (error) {
      if (error instanceof ApiProblem && error.status !== 0 && error.status !== 401) cancelStatus.textContent = error.message
      else if (!signal.aborted) ctx.fail(error)
    } finally {
      cancel.disabled = false
    }
  })

  show(ctx.main,
    h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Jobs'), ' / ', h('a', { href: `#/jobs/${encodeURIComponent(job)}` }, job), ' / ', name),
    h('h1', {}, `Run ${name}`),
    state,
    facts,
    h('div', { class: 'progress' }, h('label', { for: 'progress' }, 'Tasks done '), progress, ' ', progressText),
    h('div', { class: 'actions' }, cancel, cancelStatus),
    tasks.section,
    h('section', { 'aria-labelledby': 'received-title' }, h('h2', { id: 'received-title' }, 'What the tasks received'), receivedSection),
    h('section', { 'aria-labelledby': 'log-title' }, h('h2', { id: 'log-title' }, 'Log'), log))
  render()
  renderReceived()

  // The duration of a running run grows between events.
  const ticker = setInterval(() => { if (!ENDED.has(run.state)) render() }, 1000)
  signal.addEventListener('abort', () => clearInterval(ticker), { once: true })
  watchRun(job, name, { onRun: next => { run = next; render() }, onLog }, signal)
    .catch(error => { if (!signal.aborted) ctx.fail(error) })
    .finally(() => clearInterval(ticker))
}
