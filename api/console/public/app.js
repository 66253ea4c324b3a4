import { activityPage } from './activity.js'
import { ApiProblem, api, credential, signIn, signOut } from './api.js'
import { jobPage, jobsPage } from './jobs.js'
import { runPage } from './run.js'
import { h, show } from './view.js'

const main = document.getElementById('main')
const who = document.getElementById('who')
const signOutButton = document.getElementById('sign-out')
const dialog = document.getElementById('confirm')

/** Aborts the previous page's requests and watchers when the reader moves on. */
let leaving = new AbortController()
let me

/** Asks before a destructive step; resolves true only on the explicit "yes". */
function confirmStep (text) {
  document.getElementById('confirm-text').textContent = text
  return new Promise(resolve => {
    const answer = value => () => { dialog.close(); resolve(value) }
    document.getElementById('confirm-yes').onclick = answer(true)
    document.getElementById('confirm-no').onclick = answer(false)
    dialog.oncancel = () => resolve(false)
    dialog.showModal()
  })
}

function signInScreen (problem) {
  const kind = h('select', { id: 'kind' }, h('option', { value: 'apikey' }, 'API key (X-API-Key)'), h('option', { value: 'idtoken' }, 'Google ID token (Authorization: Bearer)'))
  const secret = h('input', { id: 'secret', type: 'password', autocomplete: 'off', required: true, 'aria-describedby': 'secret-hint' })
  const form = h('form', { class: 'signin' },
    h('div', { class: 'field' }, h('label', { for: 'kind' }, 'Credential'), kind),
    h('div', { class: 'field' }, h('label', { for: 'secret' }, 'Value'), secret,
      h('p', { class: 'hint', id: 'secret-hint' }, 'Kept in this tab only (sessionStorage) and sent with each API call; jobgate stores nothing.')),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Sign in')))
  form.addEventListener('submit', event => {
    event.preventDefault()
    if (secret.value.trim() === '') { secret.focus(); return }
    signIn(kind.value, secret.value.trim())
    void route()
  })
  show(main, h('section', { class: 'problem' },
    h('h1', {}, 'Sign in'),
    h('p', { role: 'alert' }, credential() === null ? 'jobgate needs to know who you are.' : `Your credential was refused: ${problem.message}`),
    form))
}

function countdown (seconds, button) {
  const text = h('span', { role: 'timer', 'aria-live': 'off' })
  let left = seconds
  const tick = () => {
    text.textContent = left > 0 ? `Retry in ${left} s.` : 'You can retry now.'
    button.disabled = left > 0
    if (left-- > 0) setTimeout(tick, 1000)
  }
  tick()
  return text
}

/** One clear screen per kind of failure, each with a way on. */
export function showProblem (error) {
  const problem = error instanceof ApiProblem ? error : new ApiProblem(500, 'INTERNAL', String(error?.message ?? error))
  if (problem.status === 401) { me = undefined; signInScreen(problem); return }
  const retry = h('button', { type: 'button' }, 'Try again')
  retry.addEventListener('click', () => { void route() })
  const home = h('a', { href: '#/' }, 'Back to jobs')
  const screens = {
    0: ['Cannot reach jobgate', 'Check your connection; the page retries when you ask.', retry],
    403: ['Not allowed', `${me?.name ?? 'You'} may not do this. Ask whoever runs jobgate to add you to the job's principals.`, home],
    404: ['Not found', 'It does not exist, or it is not yours to see.', home],
    429: ['Too many requests', 'jobgate limits how fast one caller may go.', retry]
  }
  const [title, advice, action] = screens[problem.status] ?? [`Something went wrong (${problem.status})`, 'jobgate or Cloud Run answered with an error.', retry]
  show(main, h('section', { class: 'problem', 'data-status': problem.status },
    h('h1', {}, title),
    h('p', { role: 'alert' }, problem.message),
    h('p', {}, advice),
    problem.status === 429 ? h('p', {}, countdown(problem.retryAfterSeconds ?? 1, retry)) : null,
    h('div', { class: 'actions' }, action)))
}

async function whoAmI (signal) {
  me ??= await api('/v1/me', { signal })
  const tenant = me.tenant !== undefined ? `, tenant ${me.tenant}` : me.tenantFree ? ', any tenant' : ', no tenant'
  who.textContent = me.name === 'anonymous' && credential() === null ? 'Local mode: no sign-in' : `Signed in as ${me.name}${tenant}`
  signOutButton.hidden = credential() === null
  return me
}

async function route () {
  // Other fragments (none today) are left to the browser.
  if (location.hash !== '' && !location.hash.startsWith('#/')) return
  leaving.abort()
  leaving = new AbortController()
  const signal = leaving.signal
  try {
    const parts = location.hash.slice(2).split('/').filter(part => part !== '').map(decodeURIComponent)
    const ctx = { main, signal, me: await whoAmI(signal), fail: showProblem, confirm: confirmStep }
    if (parts.length === 0) await jobsPage(ctx)
    else if (parts[0] === 'activity' && parts.length === 1) await activityPage(ctx)
    else if (parts[0] === 'jobs' && parts.length === 2) await jobPage(ctx, parts[1])
    else if (parts[0] === 'jobs' && parts[2] === 'runs' && parts.length === 4) await runPage(ctx, parts[1], parts[3])
    else throw new ApiProblem(404, 'NOT_FOUND', `no console page "${location.hash}"`)
  } catch (error) {
    if (!signal.aborted) showProblem(error)
  }
}

signOutButton.addEventListener('click', () => {
  signOut()
  me = undefined
  who.textContent = ''
  void route()
})
window.addEventListener('hashchange', () => { void route() })
void route()
