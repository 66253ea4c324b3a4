import { api, runPath } from './api.js'
import { duration, when } from './format.js'
import { badge, h } from './view.js'

/** What changes a run's task table: its state and counts (a retry shows in retriedCount). */
const tasksKey = run => [run.state, run.succeededCount, run.failedCount, run.runningCount, run.cancelledCount, run.retriedCount].join('|')

/** Why a task's last attempt failed: its exit code, else Cloud Run's message. */
const why = task => task.exitCode !== undefined && task.exitCode !== 0 ? `exit code ${task.exitCode}` : task.message ?? ''

function row (task) {
  return h('tr', {},
    h('th', { scope: 'row', class: 'num' }, String(task.index)),
    h('td', {}, badge(task.state)),
    h('td', { class: 'num' }, String(task.attempts)),
    h('td', { class: 'num' }, task.exitCode === undefined ? '—' : String(task.exitCode)),
    h('td', {}, when(task.startTime)),
    h('td', {}, duration(task)),
    h('td', {}, why(task)))
}

/**
 * The run's tasks (the first page, by index): state, attempts (retries show here), the last exit code. Read again
 * when the run's state or counts change, one read at a time; the last change always gets its read.
 */
export function taskTable (job, name, signal) {
  const body = h('tbody')
  const note = h('p', { class: 'hint', role: 'status' })
  const headings = ['Task', 'State', 'Attempts', 'Exit code', 'Started', 'Duration', 'Why'].map(title => h('th', { scope: 'col' }, title))
  const section = h('section', { 'aria-labelledby': 'tasks-title' },
    h('h2', { id: 'tasks-title' }, 'Tasks'),
    h('table', { class: 'tasks' }, h('thead', {}, h('tr', {}, headings)), body),
    note)
  let wanted
  let shown
  let reading = false
  const read = async () => {
    reading = true
    while (!signal.aborted && wanted !== undefined && tasksKey(wanted) !== shown) {
      const key = tasksKey(wanted)
      try {
        const page = await api(`${runPath(job, name)}/tasks`, { signal })
        body.replaceChildren(...page.tasks.map(row))
        note.textContent = page.nextPageToken === undefined ? '' : `The first ${page.tasks.length} tasks.`
      } catch (error) {
        if (signal.aborted) break
        note.textContent = `The tasks cannot be read now: ${error.message}`
      }
      shown = key
    }
    reading = false
  }
  return {
    section,
    /** The run as last seen: reads its tasks if they may have changed. */
    update: run => {
      wanted = run
      if (!reading) void read()
    }
  }
}
