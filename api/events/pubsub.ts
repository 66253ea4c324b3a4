import { parseStrictJson } from '../plugins/strict-input/json-body.js'
import { isProtectedEnvName } from '../policy/protected-env.js'
import type { PubsubMappingPolicy } from '../schemas/catalog.js'
import type { PushMessage } from '../schemas/pubsub.js'
import type { RunRequest } from '../schemas/run.js'
import { parseTemplate, placeholderText, renderTemplate, type Placeholder, type Template } from './template.js'

/** A job's `pubsub` catalog entry, templates parsed: how one message becomes one run request. */
export interface PubsubMapping {
  env: Record<string, Template>
  args?: Template[]
  /** attribute → accepted values; every attribute listed must match one of its values. */
  filter: Record<string, string[]>
}

/** The message cannot become a run request (missing attribute, data not JSON…): never retried into success. */
export class MessageMappingError extends Error {
  override readonly name = 'MessageMappingError'
}

/** Parses the catalog's templates once, at start; throws an Error naming the bad part (`env.BUCKET: …`). */
export function compilePubsubMapping (policy: PubsubMappingPolicy): PubsubMapping {
  const env: Record<string, Template> = {}
  for (const [name, text] of Object.entries(policy.env ?? {})) {
    if (isProtectedEnvName(name)) throw new Error(`env.${name}: protected; it cannot be overridden`)
    env[name] = parseAt(`env.${name}`, text)
  }
  const filter: Record<string, string[]> = {}
  for (const [attribute, values] of Object.entries(policy.filter ?? {})) filter[attribute] = typeof values === 'string' ? [values] : values
  const mapping: PubsubMapping = { env, filter }
  if (policy.args !== undefined) mapping.args = policy.args.map((text, index) => parseAt(`args[${index}]`, text))
  return mapping
}

function parseAt (where: string, text: string): Template {
  try {
    return parseTemplate(text)
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`, { cause: err })
  }
}

export type FilterResult = { matched: true } | { matched: false, reason: string }

/** Whether the message's attributes pass the job's filter; when not, which attribute failed and why. */
export function matchFilter (mapping: PubsubMapping, attributes: Record<string, string>): FilterResult {
  for (const [attribute, accepted] of Object.entries(mapping.filter)) {
    const value = Object.hasOwn(attributes, attribute) ? attributes[attribute] : undefined
    if (value === undefined) return { matched: false, reason: `attribute "${attribute}" is absent (filter accepts ${accepted.join(', ')})` }
    if (!accepted.includes(value)) return { matched: false, reason: `attribute ${attribute}=${value} (filter accepts ${accepted.join(', ')})` }
  }
  return { matched: true }
}

/** What the templates read from one delivered message; `data` is parsed only when a template needs it. */
class MessageFields {
  #parsedData: Record<string, unknown> | Error | undefined

  readonly #message: PushMessage

  constructor (message: PushMessage) {
    this.#message = message
  }

  valueOf (placeholder: Placeholder): string {
    switch (placeholder.source) {
      case 'message': return this.#message[placeholder.field]
      case 'attributes': {
        const attributes = this.#message.attributes ?? {}
        const value = Object.hasOwn(attributes, placeholder.name) ? attributes[placeholder.name] : undefined
        if (value === undefined) throw new MessageMappingError(`${placeholderText(placeholder)}: the message has no attribute "${placeholder.name}"`)
        return value
      }
      case 'data': return this.#dataValue(placeholder)
    }
  }

  #dataValue (placeholder: Placeholder & { source: 'data' }): string {
    const data = this.#parseData()
    if (data instanceof Error) throw new MessageMappingError(`${placeholderText(placeholder)}: ${data.message}`)
    let value: unknown = data
    for (const key of placeholder.path) {
      value = typeof value === 'object' && value !== null && !Array.isArray(value) && Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined
    }
    if (typeof value === 'string') return value
    if (typeof value === 'number' || typeof value === 'boolean') return String(value)
    if (value === undefined || value === null) throw new MessageMappingError(`${placeholderText(placeholder)}: the message data has no such field`)
    throw new MessageMappingError(`${placeholderText(placeholder)}: is an object or array, not a value`)
  }

  #parseData (): Record<string, unknown> | Error {
    if (this.#parsedData !== undefined) return this.#parsedData
    const bytes = Buffer.from(this.#message.data ?? '', 'base64')
    try {
      // The strict parser, as for request bodies: duplicate keys, `__proto__` and invalid UTF-8 are refused.
      const parsed = parseStrictJson(bytes)
      this.#parsedData = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
        ? parsed as Record<string, unknown>
        : new Error('the message data is JSON but not an object')
    } catch (err) {
      this.#parsedData = new Error(bytes.length === 0 ? 'the message has no data' : `the message data is not strict JSON (${(err as Error).message.replace(/^body: /, '')})`)
    }
    return this.#parsedData
  }
}

export type MappingResult = { request: RunRequest } | { problem: string }

/** The run request a message stands for, or why it cannot have one (a template that cannot be filled). */
export function mapMessage (mapping: PubsubMapping, message: PushMessage): MappingResult {
  try {
    return { request: runRequestOf(mapping, message) }
  } catch (err) {
    if (err instanceof MessageMappingError) return { problem: err.message }
    throw err
  }
}

/** The run request a message stands for, not yet checked (api/runs/request-check.ts); throws MessageMappingError when a template cannot be filled. */
export function runRequestOf (mapping: PubsubMapping, message: PushMessage): RunRequest {
  const fields = new MessageFields(message)
  const render = (template: Template): string => renderTemplate(template, placeholder => fields.valueOf(placeholder))
  const request: RunRequest = {}
  const env = Object.entries(mapping.env)
  if (env.length > 0) request.env = Object.fromEntries(env.map(([name, template]) => [name, render(template)]))
  if (mapping.args !== undefined) request.args = mapping.args.map(render)
  return request
}
