import { invalidArgument } from './errors.js'

/**
 * The part of the Cloud Logging query language the emulator understands: comparisons
 * `field OP value` (OP one of = != > >= < <=) joined by AND (or by juxtaposition, which
 * means AND). Anything else (OR, NOT, -, parentheses, `:`, regular expressions, functions)
 * is rejected with 400 rather than silently ignored.
 */

export type Operator = '=' | '!=' | '>' | '>=' | '<' | '<='

export interface Comparison {
  path: string[]
  operator: Operator
  value: string
}

export const severities = ['DEFAULT', 'DEBUG', 'INFO', 'NOTICE', 'WARNING', 'ERROR', 'CRITICAL', 'ALERT', 'EMERGENCY']
const roots = new Set(['resource', 'labels', 'logName', 'severity', 'timestamp', 'receiveTimestamp', 'insertId', 'textPayload', 'jsonPayload', 'trace', 'spanId'])
const timeFields = new Set(['timestamp', 'receiveTimestamp'])

const syntax = 'the emulator supports only `field OP value` terms joined by AND, with OP one of = != > >= < <='

class Cursor {
  position = 0
  constructor (readonly text: string) {}

  get done (): boolean {
    this.skipSpace()
    return this.position >= this.text.length
  }

  skipSpace (): void {
    while (/\s/.test(this.text[this.position] ?? '')) this.position++
  }

  fail (what: string): never {
    throw invalidArgument(`Unsupported filter at column ${this.position + 1}: ${what}; ${syntax}.`)
  }

  /** A double-quoted string with backslash escapes; the cursor is on the opening quote. */
  quoted (): string {
    let out = ''
    for (let i = this.position + 1; i < this.text.length; i++) {
      const char = this.text[i] as string
      if (char === '\\') {
        out += this.text[++i] ?? ''
      } else if (char === '"') {
        this.position = i + 1
        return out
      } else {
        out += char
      }
    }
    return this.fail('unterminated string')
  }

  /** A run of characters matching `pattern`, possibly empty. */
  run (pattern: RegExp): string {
    const start = this.position
    while (pattern.test(this.text[this.position] ?? '')) this.position++
    return this.text.slice(start, this.position)
  }
}

function parseField (cursor: Cursor): string[] {
  const path: string[] = []
  for (;;) {
    const segment = cursor.text[cursor.position] === '"' ? cursor.quoted() : cursor.run(/[A-Za-z0-9_]/)
    if (segment === '') cursor.fail(`expected a field name, found ${JSON.stringify(cursor.text.slice(cursor.position, cursor.position + 10))}`)
    path.push(segment)
    if (cursor.text[cursor.position] !== '.') return path
    cursor.position++
  }
}

function parseOperator (cursor: Cursor): Operator {
  cursor.skipSpace()
  const operator = cursor.run(/[=!<>:~]/)
  if (['=', '!=', '>', '>=', '<', '<='].includes(operator)) return operator as Operator
  return cursor.fail(operator === '' ? 'expected a comparison operator' : `operator ${JSON.stringify(operator)} is not supported`)
}

function parseValue (cursor: Cursor): string {
  cursor.skipSpace()
  if (cursor.text[cursor.position] === '"') return cursor.quoted()
  const value = cursor.run(/[^\s()"]/)
  if (value === '') cursor.fail('expected a value')
  return value
}

function checkComparison (cursor: Cursor, comparison: Comparison): void {
  const [root] = comparison.path
  if (!roots.has(root as string)) cursor.fail(`field ${JSON.stringify(comparison.path.join('.'))} is not supported`)
  if (timeFields.has(root as string) && Number.isNaN(Date.parse(comparison.value))) {
    cursor.fail(`${root} needs an RFC 3339 time, got ${JSON.stringify(comparison.value)}`)
  }
  if (root === 'severity' && !severities.includes(comparison.value.toUpperCase())) {
    cursor.fail(`unknown severity ${JSON.stringify(comparison.value)}`)
  }
}

/** Parses a filter into the comparisons that must all hold; throws a 400 GoogleError otherwise. */
export function parseFilter (filter: string): Comparison[] {
  const cursor = new Cursor(filter)
  const comparisons: Comparison[] = []
  while (!cursor.done) {
    if (comparisons.length > 0 && /^AND(\s|$)/.test(cursor.text.slice(cursor.position))) {
      cursor.position += 3
      if (cursor.done) cursor.fail('AND needs a term after it')
    }
    const ahead = cursor.text.slice(cursor.position)
    const unsupported = /^(OR|NOT)(\s|$)/.exec(ahead)?.[1] ?? (/^[-(),]/.exec(ahead)?.[0])
    if (unsupported !== undefined) cursor.fail(`${JSON.stringify(unsupported)} is not supported`)
    const path = parseField(cursor)
    const comparison = { path, operator: parseOperator(cursor), value: parseValue(cursor) }
    checkComparison(cursor, comparison)
    comparisons.push(comparison)
  }
  return comparisons
}

function valueAt (entry: unknown, path: string[]): unknown {
  let value = entry
  for (const segment of path) {
    if (typeof value !== 'object' || value === null) return undefined
    value = (value as Record<string, unknown>)[segment]
  }
  return value
}

function compare (a: number | string, b: number | string, operator: Operator): boolean {
  switch (operator) {
    case '=': return a === b
    case '!=': return a !== b
    case '>': return a > b
    case '>=': return a >= b
    case '<': return a < b
    case '<=': return a <= b
  }
}

/** Whether one comparison holds for an entry: times as instants, severities by rank, numbers as numbers. */
export function holds (entry: unknown, { path, operator, value }: Comparison): boolean {
  const actual = valueAt(entry, path)
  if (actual === undefined || actual === null || typeof actual === 'object') return operator === '!='
  const root = path[0] as string
  if (timeFields.has(root)) return compare(Date.parse(String(actual)), Date.parse(value), operator)
  if (root === 'severity') return compare(severities.indexOf(String(actual)), severities.indexOf(value.toUpperCase()), operator)
  if (typeof actual === 'number' && value.trim() !== '' && !Number.isNaN(Number(value))) return compare(actual, Number(value), operator)
  return compare(String(actual), value, operator)
}

export function matchesAll (entry: unknown, comparisons: Comparison[]): boolean {
  return comparisons.every(comparison => holds(entry, comparison))
}
