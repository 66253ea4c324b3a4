/** Rows under a header, each column as wide as its widest cell, two spaces apart; the last column is not padded. */
export function formatTable (header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map(row => (row[column] ?? '').length)))
  const line = (cells: readonly string[]): string =>
    cells.map((cell, column) => column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd()
  return [header, ...rows].map(line).join('\n')
}

/** `2026-11-23T10:00:01Z`: a time from the API, to the second, in UTC; '-' when there is none. */
export function shortTime (iso: string | undefined): string {
  const at = iso === undefined ? Number.NaN : Date.parse(iso)
  return Number.isNaN(at) ? '-' : `${new Date(at).toISOString().slice(0, 19)}Z`
}
