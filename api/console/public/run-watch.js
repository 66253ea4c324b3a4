import { ApiProblem, api, networkDown, runPath, send } from './api.js'
import { readEvents } from './sse.js'
import { ENDED } from './format.js'

/** Seconds one poll holds when the server has no event stream: also how often logs refresh then. */
const POLL_WAIT_SECONDS = 2
/** Log lines can reach Cloud Logging late: each poll re-reads this far back and drops repeats (as the CLI does). */
const LOG_OVERLAP_MS = 30_000

const pause = (ms, signal) => new Promise(resolve => {
  const timer = setTimeout(resolve, ms)
  signal.addEventListener('abort', () => { clearTimeout(timer); resolve() }, { once: true })
})

/** Without the stream, log lines are read again this long after the run ended, for late arrivals. */
const LATE_READS_MS = [2000, 5000]

/**
 * Follows a run until it ended and its logs are read: onRun(run) on every state, onLog(entry) once per
 * log line. Uses the run's event stream; a server without it (404 "no route") is followed with ?wait= polls.
 */
export async function watchRun (job, run, handlers, signal, lateReadsMs = LATE_READS_MS) {
  const base = runPath(job, run)
  try {
    await streamRun(base, handlers, signal)
  } catch (error) {
    if (!(error instanceof ApiProblem && error.status === 404 && error.message.startsWith('no route'))) throw error
    await pollRun(base, handlers, signal, lateReadsMs)
  }
}

async function streamRun (base, { onRun, onLog }, signal) {
  let lastEventId = ''
  for (let failures = 0; failures < 5; failures++) {
    const response = await send(`${base}/events`, { signal, accept: 'text/event-stream', headers: lastEventId === '' ? {} : { 'last-event-id': lastEventId } })
    let ended = false
    try {
      await readEvents(response, ({ event, data, id }) => {
        failures = 0
        if (event === 'log') { lastEventId = id; onLog(JSON.parse(data)) } else if (event === 'run' || event === 'end') onRun(JSON.parse(data))
        if (event === 'end') ended = true
      })
    } catch (error) {
      if (signal.aborted) throw error
      // The connection dropped mid-stream: resume after the last line seen (Last-Event-ID).
    }
    if (ended || signal.aborted) return
    await pause(1000 * (failures + 1), signal)
  }
  throw networkDown()
}

async function pollRun (base, { onRun, onLog }, signal, lateReadsMs) {
  const seen = new Set()
  const cursor = { since: undefined }
  for (;;) {
    const run = await api(`${base}?wait=${POLL_WAIT_SECONDS}`, { signal })
    onRun(run)
    await readNewLogs(base, seen, cursor, onLog, signal)
    if (ENDED.has(run.state)) break
    if (signal.aborted) return
  }
  for (const ms of lateReadsMs) {
    await pause(ms, signal)
    if (signal.aborted) return
    await readNewLogs(base, seen, cursor, onLog, signal)
  }
}

async function readNewLogs (base, seen, cursor, onLog, signal) {
  let pageToken
  let newest = cursor.since === undefined ? 0 : Date.parse(cursor.since) + LOG_OVERLAP_MS
  do {
    const query = new URLSearchParams({ pageSize: '1000' })
    if (cursor.since !== undefined) query.set('since', cursor.since)
    if (pageToken !== undefined) query.set('pageToken', pageToken)
    const page = await api(`${base}/logs?${query}`, { signal })
    for (const entry of page.entries) {
      const key = entry.insertId ?? `${entry.timestamp}|${entry.taskIndex}|${entry.message}`
      if (seen.has(key)) continue
      seen.add(key)
      newest = Math.max(newest, Date.parse(entry.timestamp) || 0)
      onLog(entry)
    }
    pageToken = page.nextPageToken
  } while (pageToken !== undefined)
  if (newest > 0) cursor.since = new Date(newest - LOG_OVERLAP_MS).toISOString()
}
