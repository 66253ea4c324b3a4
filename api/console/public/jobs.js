import { ApiProblem, api, newIdempotencyKey, runPath } from './api.js'
import { fieldOf, readRunForm } from './form.js'
import { duration, when } from './format.js'
import { badge, h, show } from './view.js'

const jobLink = id => h('a', { href: `#/jobs/${encodeURIComponent(id)}` }, id)

function envLimit ({ allow, tenantKey }) {
  const names = allow === undefined || allow.includes('*') ? 'any name that is not protected' : allow.length === 0 ? 'no overrides' : `only ${allow.join(', ')}`
  return tenantKey === undefined ? names : `${names}; tenant in ${tenantKey}`
}

const argsLimit = args => args.allow ? `up to ${args.maxItems}` : 'none'

/** The jobs this caller may run, with the catalog's limits. */
export async function jobsPage (ctx) {
  const { jobs } = await api('/v1/jobs', { signal: ctx.signal })
  const rows = jobs.map(job => h('tr', {},
    h('th', { scope: 'row' }, jobLink(job.id)),
    h('td', {}, job.description ?? ''),
    h('td', {}, `${job.project} / ${job.region} / ${job.job}`),
    h('td', { class: 'num' }, job.limits.maxTaskCount),
    h('td', { class: 'num' }, `${job.limits.maxTimeoutSeconds} s`),
    h('td', {}, argsLimit(job.limits.args)),
    h('td', {}, envLimit(job.limits.env))))
  show(ctx.main,
    h('h1', {}, 'Jobs'),
    jobs.length === 0
      ? h('p', {}, `No job is open to ${ctx.me.name}.`)
      : h('table', {},
          h('caption', {}, `Jobs ${ctx.me.name} may run, with their limits`),
          h('thead', {}, h('tr', {}, ...['Job', 'Description', 'Cloud Run job (project / region / name)', 'Tasks at most', 'Timeout at most', 'Args', 'Env overrides']
            .map(title => h('th', { scope: 'col' }, title)))),
          h('tbody', {}, rows)))
}

/** One job: its start form and its runs, newest first. */
export async function jobPage (ctx, id) {
  const [{ jobs }, firstPage] = await Promise.all([api('/v1/jobs', { signal: ctx.signal }), api(`${runPath(id)}?pageSize=10`, { signal: ctx.signal })])
  const job = jobs.find(candidate => candidate.id === id)
  if (job === undefined) throw new ApiProblem(404, 'NOT_FOUND', `job "${id}" is not among the jobs you may run`)
  const runs = h('section', { 'aria-labelledby': 'runs-title' })
  show(ctx.main,
    h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Jobs'), ' / ', id),
    h('h1', {}, `Job ${id}`),
    job.description === undefined ? null : h('p', {}, job.description),
    startForm(ctx, job),
    runs)
  runsList(ctx, id, runs, firstPage)
}

function field (name, label, hint, control) {
  control.id = `f-${name}`
  control.name = name
  control.setAttribute('aria-describedby', `f-${name}-hint f-${name}-error`)
  return h('div', { class: 'field' },
    h('label', { for: control.id }, label),
    control,
    h('p', { class: 'hint', id: `f-${name}-hint` }, hint),
    h('p', { class: 'field-error', id: `f-${name}-error` }))
}

function tenantHint (ctx, key) {
  if (key === undefined) return ''
  if (ctx.me.tenant !== undefined) return ` jobgate sets ${key}=${ctx.me.tenant}, your tenant.`
  if (ctx.me.tenantFree) return ` This job is tenant-scoped: name the tenant with ${key}=….`
  return ` This job is tenant-scoped and ${ctx.me.name} is bound to no tenant: jobgate will refuse.`
}

function startForm (ctx, job) {
  const { limits } = job
  const submit = h('button', { type: 'submit' }, 'Start run')
  const status = h('p', { class: 'form-status', role: 'status' })
  const form = h('form', { novalidate: true, 'aria-labelledby': 'start-title' },
    h('h2', { id: 'start-title' }, 'Start a run'),
    field('args', 'Args', limits.args.allow ? `One per line; up to ${limits.args.maxItems}. They replace the container's args.` : 'This job takes no args.',
      h('textarea', { rows: 3, spellcheck: 'false', disabled: !limits.args.allow })),
    field('env', 'Environment', `NAME=value, one per line; ${envLimit(limits.env)}.${tenantHint(ctx, limits.env.tenantKey)}`,
      h('textarea', { rows: 4, spellcheck: 'false' })),
    h('div', { class: 'row' },
      field('taskCount', 'Tasks', `1 to ${limits.maxTaskCount}; empty: the job's own`, h('input', { type: 'number', min: 1, max: limits.maxTaskCount, inputmode: 'numeric' })),
      field('timeoutSeconds', 'Timeout (seconds)', `1 to ${limits.maxTimeoutSeconds}; empty: the job's own`, h('input', { type: 'number', min: 1, max: limits.maxTimeoutSeconds, inputmode: 'numeric' }))),
    h('div', { class: 'actions' }, submit, status))

  const setError = (name, message) => {
    const control = form.elements.namedItem(name)
    control.setAttribute('aria-invalid', 'true')
    form.querySelector(`#f-${name}-error`).textContent = message
  }
  const clearErrors = () => {
    for (const control of form.querySelectorAll('[aria-invalid]')) control.removeAttribute('aria-invalid')
    for (const message of form.querySelectorAll('.field-error')) message.textContent = ''
    status.textContent = ''
  }
  // One key per submission: repeats of the same request (a double click, a retry after a network error) start one run.
  let key
  let busy = false
  form.addEventListener('input', () => { key = undefined })
  form.addEventListener('submit', async event => {
    event.preventDefault()
    if (busy) return
    clearErrors()
    const values = Object.fromEntries(['args', 'env', 'taskCount', 'timeoutSeconds'].map(name => [name, form.elements.namedItem(name).value]))
    const { request, errors } = readRunForm(values, limits)
    const invalid = Object.entries(errors)
    if (invalid.length > 0) {
      for (const [name, message] of invalid) setError(name, message)
      form.querySelector('[aria-invalid]').focus()
      return
    }
    key ??= newIdempotencyKey()
    busy = true
    submit.disabled = true
    status.textContent = 'Starting…'
    try {
      const run = await api(runPath(job.id), { method: 'POST', body: request, headers: { 'idempotency-key': key }, signal: ctx.signal })
      key = undefined
      sessionStorage.setItem(`jobgate.sent.${job.id}.${run.name}`, JSON.stringify(request))
      location.hash = `#/jobs/${encodeURIComponent(job.id)}/runs/${encodeURIComponent(run.name)}`
    } catch (error) {
      const name =
        error instanceof ApiProblem && error.status >= 400 && error.status < 500 && error.status !== 429 && error.status !== 401
          ? fieldOf(error.message)
          : undefined
      if (name !== undefined) {
        setError(name, error.message)
        form.elements.namedItem(name).focus()
      } else if (error instanceof ApiProblem && error.status === 400) {
        status.textContent = error.message
      } else if (!ctx.signal.aborted) ctx.fail(error)
    } finally {
      busy = false
      submit.disabled = false
      if (status.textContent === 'Starting…') status.textContent = ''
    }
  })
  return form
}

function runsList (ctx, id, section, firstPage) {
  // Tokens of the pages before this one, so "Newer" can go back.
  const previous = []
  let token
  const render = page => {
    const older = h('button', { type: 'button', disabled: page.nextPageToken === undefined }, 'Older runs')
    const newer = h('button', { type: 'button', disabled: previous.length === 0 }, 'Newer runs')
    const refresh = h('button', { type: 'button' }, 'Refresh')
    older.addEventListener('click', () => { previous.push(token); void load(page.nextPageToken) })
    newer.addEventListener('click', () => { void load(previous.pop()) })
    refresh.addEventListener('click', () => { void load(token) })
    section.replaceChildren(
      h('h2', { id: 'runs-title' }, 'Runs'),
      page.runs.length === 0
        ? h('p', {}, previous.length === 0 ? 'No runs yet.' : 'No older runs.')
        : h('table', { class: 'runs' },
            h('thead', {}, h('tr', {}, ...['Run', 'State', 'Started', 'Duration', 'Succeeded', 'Failed', 'Running', 'Tasks']
              .map(title => h('th', { scope: 'col' }, title)))),
            h('tbody', {}, page.runs.map(run => h('tr', {},
              h('th', { scope: 'row' }, h('a', { href: `#/jobs/${encodeURIComponent(id)}/runs/${encodeURIComponent(run.name)}` }, run.name)),
              h('td', {}, badge(run.state)),
              h('td', {}, when(run.startTime ?? run.createTime)),
              h('td', {}, duration(run)),
              h('td', { class: 'num' }, run.succeededCount),
              h('td', { class: 'num' }, run.failedCount),
              h('td', { class: 'num' }, run.runningCount),
              h('td', { class: 'num' }, run.taskCount))))),
      h('div', { class: 'actions' }, newer, older, refresh))
  }
  const load = async pageToken => {
    try {
      const query = new URLSearchParams({ pageSize: '10', ...(pageToken !== undefined && { pageToken }) })
      const page = await api(`${runPath(id)}?${query}`, { signal: ctx.signal })
      token = pageToken
      render(page)
    } catch (error) {
      if (!ctx.signal.aborted) ctx.fail(error)
    }
  }
  render(firstPage)
}
