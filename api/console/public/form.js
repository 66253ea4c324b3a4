/** The start form's text turned into a run request, checked against the job's limits before it is sent. */

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/

const lines = text => text.split(/\r?\n/).filter(line => line.trim() !== '')

const allowedBy = (name, allow) => allow.some(pattern => pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern)

function readInteger (text, field, max, errors) {
  if (text.trim() === '') return undefined
  const value = Number(text)
  if (!Number.isInteger(value) || value < 1) errors[field] = `${field}: must be a whole number of at least 1`
  else if (value > max) errors[field] = `${field}: ${value} is over this job's limit of ${max}`
  return value
}

function readEnv (text, limits, errors) {
  const env = {}
  for (const [index, line] of lines(text).entries()) {
    const equals = line.indexOf('=')
    const name = equals === -1 ? line.trim() : line.slice(0, equals).trim()
    if (equals === -1) { errors.env = `env: line ${index + 1}: write NAME=value`; break }
    if (!ENV_NAME.test(name)) { errors.env = `env.${name}: not a valid variable name`; break }
    if (Object.hasOwn(env, name)) { errors.env = `env.${name}: given twice`; break }
    const allow = limits.env.allow
    if (allow !== undefined && name !== limits.env.tenantKey && !allowedBy(name, allow)) {
      errors.env = `env.${name}: not allowed for this job (allowed: ${allow.join(', ') || 'none'})`
      break
    }
    env[name] = line.slice(equals + 1)
  }
  return env
}

/**
 * `{ args, env, taskCount, timeoutSeconds }` as typed → `{ request, errors }`; errors maps a field to a
 * message that starts with the field's path, as the API's own messages do.
 */
export function readRunForm (values, limits) {
  const errors = {}
  const args = lines(values.args)
  if (args.length > 0 && !limits.args.allow) errors.args = 'args: this job does not accept args'
  else if (args.length > limits.args.maxItems) errors.args = `args: ${args.length} lines; this job accepts at most ${limits.args.maxItems}`
  const env = readEnv(values.env, limits, errors)
  const taskCount = readInteger(values.taskCount, 'taskCount', limits.maxTaskCount, errors)
  const timeoutSeconds = readInteger(values.timeoutSeconds, 'timeoutSeconds', limits.maxTimeoutSeconds, errors)
  const request = {
    ...(args.length > 0 && { args }),
    ...(Object.keys(env).length > 0 && { env }),
    ...(taskCount !== undefined && { taskCount }),
    ...(timeoutSeconds !== undefined && { timeoutSeconds })
  }
  return { request, errors }
}

/** Which form field an API message is about (`env.LD_PRELOAD: protected…` → env), if any. */
export function fieldOf (message) {
  const path = /^(args|clearArgs|env|taskCount|timeoutSeconds)\b/.exec(message)?.[1]
  return path === 'clearArgs' ? 'args' : path
}
