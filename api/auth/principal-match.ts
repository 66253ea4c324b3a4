/**
 * Whether a principal is on an allow-list. A pattern is `*` (everyone), an exact name, or an
 * email whose local part may hold `*` wildcards (`*@ci-project.iam.gserviceaccount.com`).
 * Email domains compare case-insensitively (ASCII only); patterns are never turned into regexes.
 */
export function principalMatches (patterns: readonly string[], principalName: string): boolean {
  return patterns.some(pattern => patternMatches(pattern, principalName))
}

function patternMatches (pattern: string, name: string): boolean {
  if (pattern === '*') return true
  const wanted = splitEmail(pattern)
  if (wanted === undefined) return pattern === name
  const actual = splitEmail(name)
  if (actual === undefined || asciiLowerCase(wanted.domain) !== asciiLowerCase(actual.domain)) return false
  return globMatches(wanted.local, actual.local)
}

/** Exactly one `@` with something on both sides; anything else is not an email here. */
function splitEmail (value: string): { local: string, domain: string } | undefined {
  const at = value.indexOf('@')
  if (at <= 0 || at === value.length - 1 || value.indexOf('@', at + 1) !== -1) return undefined
  return { local: value.slice(0, at), domain: value.slice(at + 1) }
}

/** Only A-Z folds: Unicode folding would let e.g. the Kelvin sign (U+212A) pass for `k`. */
function asciiLowerCase (value: string): string {
  return value.replace(/[A-Z]/g, letter => letter.toLowerCase())
}

/** `*` matches any run of characters (the `@` was split off already); everything else is literal. */
function globMatches (pattern: string, text: string): boolean {
  let p = 0
  let t = 0
  let starAt = -1
  let resumeAt = 0
  while (t < text.length) {
    if (p < pattern.length && pattern[p] === '*') {
      starAt = p++
      resumeAt = t
    } else if (p < pattern.length && pattern[p] === text[t]) {
      p++
      t++
    } else if (starAt !== -1) {
      p = starAt + 1
      t = ++resumeAt
    } else {
      return false
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++
  return p === pattern.length
}
