import { invalidArgument } from '../errors.js'
import type { RunLogEntry } from '../logging/client.js'

/** A comment line every 15 s keeps proxies and load balancers from closing a quiet stream. */
export const HEARTBEAT_MS = 15_000
export const HEARTBEAT = ': heartbeat\n\n'

/** One server-sent event; data is JSON on one line, so it never needs splitting. */
export function sseEvent (event: string, data: unknown, id?: string): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
}

/**
 * A log event's resume cursor: its position in this instance's tail, and its insertId when it
 * has a plain one, so a resume on another instance (whose tail may have read lines in another
 * order) finds the same entry.
 */
export interface Cursor { position: number, insertId?: string }

const CURSOR = /^(\d{1,9})(?:\.([A-Za-z0-9_-]{1,128}))?$/

export function formatCursor (position: number, entry: RunLogEntry): string {
  return entry.insertId !== undefined && /^[A-Za-z0-9_-]{1,128}$/.test(entry.insertId) ? `${position}.${entry.insertId}` : String(position)
}

/** Last-Event-ID as a cursor; undefined when absent; a 400 when it is not one jobgate wrote. */
export function parseCursor (header: string | string[] | undefined): Cursor | undefined {
  if (header === undefined || header === '') return undefined
  const match = typeof header === 'string' ? CURSOR.exec(header) : null
  if (match === null) throw invalidArgument('Last-Event-ID: not a cursor from this stream (expected the id of a log event, e.g. "12" or "12.abc")')
  return { position: Number(match[1]), ...(match[2] !== undefined && { insertId: match[2] }) }
}

/** How many entries of `entries` the client has already seen, given its cursor. */
export function resumeIndex (entries: readonly RunLogEntry[], cursor: Cursor | undefined): number {
  if (cursor === undefined) return 0
  if (cursor.insertId !== undefined) {
    const at = entries.findIndex(entry => entry.insertId === cursor.insertId)
    if (at >= 0) return at + 1
  }
  return Math.min(cursor.position, entries.length)
}
