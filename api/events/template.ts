/**
 * Templates of the catalog's `pubsub` mapping: literal text with placeholders
 * `{attributes.NAME}`, `{data.a.b}` (when the message data is JSON), `{message.messageId}`,
 * `{message.publishTime}`. `{{` and `}}` stand for literal braces.
 */

export type Placeholder =
  | { source: 'attributes', name: string }
  | { source: 'data', path: string[] }
  | { source: 'message', field: 'messageId' | 'publishTime' }

export type TemplatePart = string | Placeholder

export interface Template {
  text: string
  parts: TemplatePart[]
}

const MESSAGE_FIELDS = ['messageId', 'publishTime'] as const

/** `{attributes.bucketId}` as written in a template, for error messages. */
export function placeholderText (placeholder: Placeholder): string {
  switch (placeholder.source) {
    case 'attributes': return `{attributes.${placeholder.name}}`
    case 'data': return `{data.${placeholder.path.join('.')}}`
    case 'message': return `{message.${placeholder.field}}`
  }
}

function parsePlaceholder (inner: string): Placeholder {
  const dot = inner.indexOf('.')
  const source = dot < 0 ? inner : inner.slice(0, dot)
  const rest = dot < 0 ? '' : inner.slice(dot + 1)
  if (rest === '') throw new Error(`"{${inner}}" names no field: use {attributes.NAME}, {data.FIELD} or {message.messageId}`)
  if (source === 'attributes') return { source, name: rest }
  if (source === 'data') {
    const path = rest.split('.')
    if (path.includes('')) throw new Error(`"{${inner}}" has an empty path segment`)
    return { source, path }
  }
  const field = MESSAGE_FIELDS.find(candidate => candidate === rest)
  if (source === 'message' && field !== undefined) return { source, field }
  throw new Error(`"{${inner}}" is not a placeholder: use {attributes.NAME}, {data.FIELD}, {message.messageId} or {message.publishTime}`)
}

/** Parses a template; a malformed one throws an Error saying what is wrong (the catalog turns it into a ConfigError). */
export function parseTemplate (text: string): Template {
  const parts: TemplatePart[] = []
  let literal = ''
  for (let i = 0; i < text.length; i++) {
    const char = text[i]
    const next = text[i + 1]
    if ((char === '{' && next === '{') || (char === '}' && next === '}')) {
      literal += char
      i++
    } else if (char === '{') {
      const end = text.indexOf('}', i)
      if (end < 0) throw new Error(`unclosed "{" at position ${i}`)
      const inner = text.slice(i + 1, end)
      if (inner.includes('{')) throw new Error(`"{" inside a placeholder at position ${i}`)
      if (literal !== '') parts.push(literal)
      literal = ''
      parts.push(parsePlaceholder(inner))
      i = end
    } else if (char === '}') {
      throw new Error(`unmatched "}" at position ${i} (write "}}" for a literal brace)`)
    } else {
      literal += char
    }
  }
  if (literal !== '') parts.push(literal)
  return { text, parts }
}

/** Fills a template; `valueOf` returns a placeholder's text or throws why it has none. */
export function renderTemplate (template: Template, valueOf: (placeholder: Placeholder) => string): string {
  return template.parts.map(part => typeof part === 'string' ? part : valueOf(part)).join('')
}
