import { invalidArgument } from './errors.js'
import { runV1Messages } from './run-v1-schema.js'
import { isRecord } from './wire.js'

/**
 * Checks a JSON body against a Cloud Run v1 message as Google's front end does: a field the message
 * does not have, or a value of the wrong JSON type, is a 400 naming the field (in proto's snake_case,
 * as Google names it). Semantic checks (ranges, required fields) are the handlers' job.
 */

const snake = (name: string): string => name.replace(/[A-Z]/g, letter => `_${letter.toLowerCase()}`)

function wrongValue (at: string, type: string, value: unknown): never {
  throw invalidArgument(`Invalid value at '${at}' (${type}), ${JSON.stringify(value)}`)
}

function checkScalar (value: unknown, type: string, at: string): void {
  switch (type) {
    case 'string':
      if (typeof value !== 'string') wrongValue(at, 'TYPE_STRING', value)
      return
    case 'boolean':
      if (typeof value !== 'boolean') wrongValue(at, 'TYPE_BOOL', value)
      return
    case 'int32':
    case 'int64': {
      // proto3 JSON: integers as numbers or decimal strings (int64 is a string on the wire).
      const number = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value
      if (typeof number !== 'number' || !Number.isSafeInteger(number)) wrongValue(at, `TYPE_${type.toUpperCase()}`, value)
      return
    }
  }
  const names = type.slice('enum:'.length).split('|')
  if (typeof value !== 'string' || !names.includes(value)) wrongValue(at, 'TYPE_ENUM', value)
}

function checkValue (value: unknown, type: string, at: string): void {
  if (value === null) return // proto3 JSON: null is the default value
  if (type.startsWith('[]')) {
    if (!Array.isArray(value)) wrongValue(at, 'a list', value)
    value.forEach((item, i) => checkValue(item, type.slice(2), `${at}[${i}]`))
    return
  }
  if (type.startsWith('map:')) {
    if (!isRecord(value)) wrongValue(at, 'a map', value)
    for (const [key, item] of Object.entries(value)) checkValue(item, type.slice(4), `${at}[${JSON.stringify(key)}]`)
    return
  }
  if (type in runV1Messages) {
    checkMessage(value, type, at)
    return
  }
  checkScalar(value, type, at)
}

/** Throws Google's 400 unless `value` is a valid JSON encoding of the Run v1 message `message`. */
export function checkMessage (value: unknown, message: string, at: string): void {
  const fields = runV1Messages[message]
  if (fields === undefined) throw new RangeError(`no Run v1 message ${message}`)
  if (!isRecord(value)) wrongValue(at, `type.googleapis.com/google.cloud.run.v1.${message}`, value)
  for (const [name, field] of Object.entries(value)) {
    const type = fields[name]
    if (type === undefined) throw invalidArgument(`Invalid JSON payload received. Unknown name "${name}" at '${at}': Cannot find field.`)
    checkValue(field, type, `${at}.${snake(name)}`)
  }
}
