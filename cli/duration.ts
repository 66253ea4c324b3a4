/** Parses a duration in whole seconds: `90`, `90s`, `15m`, `2h`, `1h30m`. Undefined when malformed or zero. */
export function parseDurationSeconds (text: string): number | undefined {
  const match = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?$/.exec(text.trim())
  if (match === null || text.trim() === '') return undefined
  const [, hours = '0', minutes = '0', seconds = '0'] = match
  const total = Number(hours) * 3600 + Number(minutes) * 60 + Number(seconds)
  return Number.isSafeInteger(total) && total > 0 ? total : undefined
}

/** `5s`, `1m05s`, `1h02m03s`: short, fixed-width-ish, for progress lines. */
export function formatElapsed (milliseconds: number): string {
  const total = Math.max(0, Math.floor(milliseconds / 1000))
  const hours = Math.floor(total / 3600)
  const minutes = Math.floor((total % 3600) / 60)
  const seconds = total % 60
  const pad = (n: number): string => String(n).padStart(2, '0')
  if (hours > 0) return `${hours}h${pad(minutes)}m${pad(seconds)}s`
  if (minutes > 0) return `${minutes}m${pad(seconds)}s`
  return `${seconds}s`
}
