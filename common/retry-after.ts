/** `Retry-After` as delta-seconds or an HTTP date, in milliseconds; undefined when absent or unreadable. Shared by the API's Google client and the CLI. */
export function parseRetryAfterMs (value: string | string[] | undefined, now: number = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value
  if (text === undefined || text.trim() === '') return undefined
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000
  const date = Date.parse(text)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}
