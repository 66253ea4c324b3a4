import { readFileSync } from 'node:fs'
import { ConfigError } from './config-error.js'

/**
 * The one reader of jobgate's settings from the environment. Every config module reads through it,
 * so every variable follows the same rules:
 * - unset, empty and whitespace-only all mean "not set": the default applies;
 * - any other value is taken exactly as written (`PORT=" 80"` is an error, not a silent 80); only the
 *   entries of a comma list are trimmed;
 * - a bad value is a ConfigError naming the variable, what it must be, and the value (never for secrets);
 * - a setting with a file form (`NAME` or `NAME_FILE`) takes one of the two: setting both is an error.
 */
export type Env = Readonly<Record<string, string | undefined>>

/** The variable's value, or undefined when it is not set (unset, empty or only whitespace). */
export function text (env: Env, name: string): string | undefined {
  const value = env[name]
  return value === undefined || value.trim() === '' ? undefined : value
}

/** A value as error lines quote it: in double quotes, on one line whatever it holds. */
export const quote = (value: string): string => JSON.stringify(value)

/** A refusal in the one shape: `NAME: must be <expected>, not "<value>"` (one line: the value is JSON-quoted). */
export function mustBe (name: string, expected: string, value: string): ConfigError {
  return new ConfigError(name, `must be ${expected}, not ${quote(value)}`)
}

export interface WholeNumberRange {
  fallback: number
  min: number
  /** Default: the largest safe integer. */
  max?: number
}

/** A whole number within [min, max], written as digits only (no sign, fraction, exponent or spaces). */
export function wholeNumber (env: Env, name: string, { fallback, min, max = Number.MAX_SAFE_INTEGER }: WholeNumberRange): number {
  const value = text(env, name)
  if (value === undefined) return fallback
  const number = Number(value)
  if (!/^\d+$/.test(value) || number < min || number > max) {
    throw mustBe(name, max === Number.MAX_SAFE_INTEGER ? `a whole number ≥ ${min}` : `a whole number from ${min} to ${max}`, value)
  }
  return number
}

/** One of `choices`, exactly as listed (case counts); undefined when not set. */
export function oneOf<Choice extends string> (env: Env, name: string, choices: readonly Choice[]): Choice | undefined {
  const value = text(env, name)
  if (value === undefined) return undefined
  const choice = choices.find(candidate => candidate === value)
  if (choice === undefined) throw mustBe(name, alternatives(choices), value)
  return choice
}

/** `"a" or "b"`, or `one of "a", "b", "c"`. */
function alternatives (choices: readonly string[]): string {
  const quoted = choices.map(quote)
  return quoted.length === 2 ? quoted.join(' or ') : `one of ${quoted.join(', ')}`
}

/** `true` or `false`; not set is false. */
export function flag (env: Env, name: string): boolean {
  return oneOf(env, name, ['true', 'false']) === 'true'
}

/** A comma list, each entry trimmed; undefined when not set; an empty entry (`a,,b`, `a,`) is an error. */
export function list (env: Env, name: string): string[] | undefined {
  const value = text(env, name)
  if (value === undefined) return undefined
  const entries = value.split(',').map(entry => entry.trim())
  if (entries.includes('')) throw new ConfigError(name, 'has an empty entry in the comma list')
  return entries
}

/** A setting's text and the variable it came from (`NAME` or `NAME_FILE`), which its parser names in errors. */
export interface SettingText {
  text: string
  variable: string
}

/**
 * A setting given inline (`NAME`) or as the path of a file holding it (`NAME_FILE`); undefined when
 * neither is set. Setting both is an error: neither silently wins.
 */
export function inlineOrFile (env: Env, name: string): SettingText | undefined {
  const fileVariable = `${name}_FILE`
  const inline = text(env, name)
  const path = text(env, fileVariable)
  if (inline !== undefined && path !== undefined) throw new ConfigError(name, `set either ${name} or ${fileVariable}, not both`)
  if (inline !== undefined) return { text: inline, variable: name }
  if (path === undefined) return undefined
  try {
    return { text: readFileSync(path, 'utf8'), variable: fileVariable }
  } catch (err) {
    throw new ConfigError(fileVariable, `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`)
  }
}
