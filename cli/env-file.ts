/**
 * Parses a dotenv-style file: `KEY=VALUE` lines, `# comments`, blank lines, an optional
 * `export ` prefix, and values in single quotes (literal) or double quotes (with \n, \t, \", \\).
 */
export function parseEnvFile (text: string, fileName: string): Record<string, string> {
  const env: Record<string, string> = {}
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/)
  lines.forEach((raw, index) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line)
    if (match === null) throw new Error(`${fileName}:${index + 1}: expected KEY=VALUE`)
    const [, key = '', rest = ''] = match
    env[key] = parseValue(rest, `${fileName}:${index + 1}`)
  })
  return env
}

function parseValue (rest: string, where: string): string {
  const quote = rest[0]
  if (quote === '"' || quote === '\'') {
    const end = findClosingQuote(rest, quote)
    if (end < 0) throw new Error(`${where}: unterminated ${quote} quote`)
    const trailing = rest.slice(end + 1).trim()
    if (trailing !== '' && !trailing.startsWith('#')) throw new Error(`${where}: unexpected text after the closing quote`)
    const inner = rest.slice(1, end)
    return quote === '\'' ? inner : unescapeDoubleQuoted(inner)
  }
  // Unquoted: a ` #` starts a comment; the value itself may contain `=` and `#`.
  const comment = rest.search(/\s#/)
  return (comment < 0 ? rest : rest.slice(0, comment)).trim()
}

function findClosingQuote (text: string, quote: string): number {
  for (let i = 1; i < text.length; i++) {
    if (quote === '"' && text[i] === '\\') { i++; continue }
    if (text[i] === quote) return i
  }
  return -1
}

const escapes: Record<string, string> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\' }

function unescapeDoubleQuoted (text: string): string {
  return text.replace(/\\(.)/g, (whole, char: string) => escapes[char] ?? whole)
}
