import { secretNamePattern } from '../common/secret-names.js'

/** Variable names whose values must never be printed (contract §5): the same the API may refuse as overrides. */
export { secretNamePattern }

export const REDACTED = '[REDACTED]'

/** A copy of `env` (unset entries dropped) with the values of secret-looking names replaced. */
export function redactEnv (env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue
    out[name] = secretNamePattern.test(name) ? REDACTED : value
  }
  return out
}
