import { invalidArgument } from './errors.js'

/**
 * Kubernetes label selectors, as Cloud Run v1's `labelSelector` takes them: comma-separated
 * requirements `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k` (exists), `!k`.
 */
export type LabelPredicate = (labels: Record<string, string>) => boolean

const key = '[A-Za-z0-9][-A-Za-z0-9_./]*'
const value = '[-A-Za-z0-9_.]*'

function requirement (text: string): LabelPredicate {
  let match: RegExpExecArray | null
  if ((match = new RegExp(`^(${key})\\s*(==|=|!=)\\s*(${value})$`).exec(text))) {
    const [, name, operator, expected] = match as unknown as [string, string, string, string]
    return operator === '!=' ? labels => labels[name] !== expected : labels => labels[name] === expected
  }
  if ((match = new RegExp(`^(${key})\\s+(in|notin)\\s*\\(([^()]*)\\)$`).exec(text))) {
    const [, name, operator, list] = match as unknown as [string, string, string, string]
    const values = list.split(',').map(item => item.trim())
    if (!values.every(item => new RegExp(`^${value}$`).test(item))) throw invalidArgument(`labelSelector: invalid value list in ${JSON.stringify(text)}.`)
    return operator === 'in'
      ? labels => labels[name] !== undefined && values.includes(labels[name])
      : labels => labels[name] === undefined || !values.includes(labels[name])
  }
  if ((match = new RegExp(`^(!?)\\s*(${key})$`).exec(text))) {
    const [, not, name] = match as unknown as [string, string, string]
    return not ? labels => labels[name] === undefined : labels => labels[name] !== undefined
  }
  throw invalidArgument(`labelSelector: unable to parse requirement ${JSON.stringify(text)}.`)
}

/** Splits on the commas that are not inside parentheses. */
function requirements (selector: string): string[] {
  const parts: string[] = []
  let depth = 0
  let current = ''
  for (const char of selector) {
    if (char === '(') depth++
    if (char === ')') depth--
    if (char === ',' && depth === 0) {
      parts.push(current)
      current = ''
    } else {
      current += char
    }
  }
  parts.push(current)
  return parts.map(part => part.trim())
}

export function parseLabelSelector (selector: string | undefined): LabelPredicate {
  if (selector === undefined || selector.trim() === '') return () => true
  const predicates = requirements(selector).map(requirement)
  return labels => predicates.every(predicate => predicate(labels))
}
