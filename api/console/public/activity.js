import { api, send } from './api.js'
import { when } from './format.js'
import { readEvents } from './sse.js'
import { badge, h, show } from './view.js'

/** Rows the page keeps: the newest first, the oldest dropped. */
const KEEP = 200
const runLink = (job, run) => h('a', { href: `#/jobs/${encodeURIComponent(job)}/runs/${encodeURIComponent(run)}` }, run)
const verbs = {
  'jobgate.run.queued': 'queued', 'jobgate.run.started': 'started', 'jobgate.run.finished': 'ended', 'jobgate.batch.finished': 'batch ended'
}

/** A batch's end: its runs' counts where a run's tasks go, and no run page to link to. */
function batchRow (event) {
  const { job, name, state, counts } = event.data
  return h('tr', {},
    h('td', {}, when(event.time)),
    h('td', {}, verbs[event.type]),
    h('th', { scope: 'row' }, job),
    h('td', {}, name),
    h('td', { class: 'state' }, badge(state)),
    h('td', {}, `runs: ${counts.succeeded} succeeded · ${counts.failed} failed · ${counts.cancelled} cancelled`))
}

function row (event) {
  if (event.type === 'jobgate.batch.finished') return batchRow(event)
  const run = event.data
  const tasks = `${run.succeededCount} succeeded · ${run.failedCount} failed · of ${run.taskCount}`
  return h('tr', {},
    h('td', {}, when(event.time)),
    h('td', {}, verbs[event.type] ?? event.type),
    h('th', { scope: 'row' }, run.job),
    h('td', {}, runLink(run.job, run.name)),
    h('td', { class: 'state' }, badge(run.state)),
    h('td', {}, event.type === 'jobgate.run.finished' ? tasks : `${run.taskCount} task${run.taskCount === 1 ? '' : 's'}`))
}

/**
 * Every run the caller may see, as it starts and ends (GET /v1/events). After a break the stream
 * resumes from the last event received (Last-Event-ID), so nothing is shown twice or missed.
 */
export async function activityPage (ctx) {
  const { jobs } = await api('/v1/jobs', { signal: ctx.signal })
  const filter = h('select', { id: 'activity-job' }, h('option', { value: '' }, 'every job'), ...jobs.map(job => h('option', { value: job.id }, job.id)))
  const status = h('p', { class: 'hint', id: 'activity-status', role: 'status' }, 'Connecting…')
  const body = h('tbody', {})
  const empty = h('p', { id: 'activity-empty' }, 'No run has started or ended since this page opened.')
  const table = h('table', { hidden: true }, h('caption', {}, 'Runs as they start and end, newest first'),
    h('thead', {}, h('tr', {}, ...['When', 'What', 'Job', 'Run', 'State', 'Tasks'].map(title => h('th', { scope: 'col' }, title)))), body)
  show(ctx.main,
    h('h1', {}, 'Activity'),
    h('div', { class: 'field' }, h('label', { for: 'activity-job' }, 'Show'), filter),
    status, empty, table)
  let following = new AbortController()
  const follow = () => {
    following.abort()
    following = new AbortController()
    body.replaceChildren()
    table.hidden = true
    empty.hidden = false
    void stream(ctx, filter.value, following.signal, { status, body, table, empty })
  }
  filter.addEventListener('change', follow)
  ctx.signal.addEventListener('abort', () => { following.abort() })
  follow()
}

async function stream (ctx, job, signal, view) {
  let lastId = ''
  for (let pause = 1; !signal.aborted; pause = Math.min(pause * 2, 30)) {
    try {
      const response = await send(`/v1/events${job === '' ? '' : `?job=${encodeURIComponent(job)}`}`, {
        signal,
        accept: 'text/event-stream',
        headers: lastId === '' ? {} : { 'last-event-id': lastId }
      })
      view.status.textContent = 'Live: runs appear here as they start and end.'
      pause = 1
      await readEvents(response, ({ event, data, id }) => {
        if (id !== '') lastId = id
        if (event === 'gap') { view.status.textContent = 'Some events were missed while disconnected: list a job\'s runs to catch up.'; return }
        view.body.prepend(row(JSON.parse(data)))
        while (view.body.rows.length > KEEP) view.body.lastElementChild.remove()
        view.table.hidden = false
        view.empty.hidden = true
      })
    } catch (error) {
      if (signal.aborted) return
      if (error?.status !== undefined && error.status !== 0 && error.status !== 429) { ctx.fail(error); return }
    }
    if (signal.aborted) return
    view.status.textContent = `Disconnected; reconnecting in ${pause} s…`
    await new Promise(resolve => setTimeout(resolve, pause * 1000))
  }
}
