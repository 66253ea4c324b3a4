import type { InjectedFailure, RequestMatch } from './options.js'

interface Rule {
  match: RequestMatch
  failure: InjectedFailure
  remaining: number
}

/** failNext(): failures that the next matching requests get instead of (or before) their answer. */
export class FaultInjector {
  readonly #rules: Rule[] = []

  add (match: RequestMatch, failure: InjectedFailure): void {
    const count = failure.count ?? 1
    if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`failNext count must be a positive integer, got ${count}`)
    this.#rules.push({ match, failure, remaining: count })
  }

  /** The failure for this request, used up by one; rules apply in the order they were added. */
  take (method: string, url: string): InjectedFailure | undefined {
    const rule = this.#rules.find(rule =>
      rule.remaining > 0 &&
      (rule.match.method === undefined || rule.match.method.toUpperCase() === method) &&
      (rule.match.pathPattern === undefined || rule.match.pathPattern.test(url)))
    if (!rule) return undefined
    rule.remaining--
    if (rule.remaining === 0) this.#rules.splice(this.#rules.indexOf(rule), 1)
    return rule.failure
  }
}
