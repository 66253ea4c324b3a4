import { invalidArgument } from './errors.js'

/** Narrowing helpers for JSON bodies: each names the offending field in a 400, as Google does. */

export function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function asRecord (value: unknown, field: string): Record<string, unknown> {
  if (!isRecord(value)) throw invalidArgument(`Invalid value at '${field}': expected an object.`)
  return value
}

export function optionalString (value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string') throw invalidArgument(`Invalid value at '${field}': expected a string.`)
  return value
}

export function optionalBoolean (value: unknown, field: string): boolean | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'boolean') throw invalidArgument(`Invalid value at '${field}': expected a boolean.`)
  return value
}

/** Integers may arrive as JSON numbers or, for int64 fields, as decimal strings. */
export function optionalInteger (value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined
  const number = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value
  if (typeof number !== 'number' || !Number.isSafeInteger(number)) throw invalidArgument(`Invalid value at '${field}': expected an integer.`)
  return number
}

export function optionalStringArray (value: unknown, field: string): string[] | undefined {
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value) || !value.every(item => typeof item === 'string')) throw invalidArgument(`Invalid value at '${field}': expected a list of strings.`)
  return value
}

/** Google rejects JSON fields it does not know; so does the emulator, for the messages it fully models. */
export function rejectUnknownFields (value: Record<string, unknown>, known: string[], at: string): void {
  for (const name of Object.keys(value)) {
    if (!known.includes(name)) throw invalidArgument(`Invalid JSON payload received. Unknown name "${name}" at '${at}': Cannot find field.`)
  }
}
