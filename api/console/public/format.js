/** Pure formatting for the console's pages (no DOM): what a run, a time or a log line reads as. */

export const ENDED = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED'])

/** `2026-11-29 09:40:12` in the reader's time zone, or an em dash. */
export function when (iso) {
  if (iso === undefined || iso === '') return '—'
  const date = new Date(iso)
  const pad = n => String(n).padStart(2, '0')
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
}

/** How long a run took (or has taken so far): `42 s`, `3 min 5 s`, `2 h 1 min`. */
export function duration (run, now = Date.now()) {
  const start = Date.parse(run.startTime ?? run.createTime ?? '')
  if (Number.isNaN(start)) return '—'
  const end = run.completionTime === undefined ? now : Date.parse(run.completionTime)
  const seconds = Math.max(0, Math.round((end - start) / 1000))
  if (seconds < 60) return `${seconds} s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`
  return `${Math.floor(seconds / 3600)} h ${Math.floor(seconds / 60) % 60} min`
}

/** `TENANT_ID=acme` for env payloads, `key=value` for the rest: what a person scans a log line for. */
export function describePayload (payload = {}) {
  return Object.entries(payload).flatMap(([key, value]) => key === 'env' && value !== null && typeof value === 'object'
    ? Object.entries(value).map(([name, text]) => `${name}=${text}`)
    : [`${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`]).join(' ')
}
