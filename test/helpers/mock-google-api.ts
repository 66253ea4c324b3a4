import { MockAgent, type Dispatcher } from 'undici'

/** One request as it left jobgate's HTTP client. */
export interface RecordedRequest {
  origin: string
  method: string
  path: string
  headers: Record<string, string>
  /** The body as sent (a JSON string), or undefined. */
  body: string | undefined
}

/** One canned upstream answer: a status with a JSON (object) or raw (string) body, or a transport error. */
export type Answer =
  | { status: number, body?: unknown, headers?: Record<string, string> }
  | { error: Error }

/**
 * Google's REST APIs played by undici's MockAgent: answers are served in the order queued, and every
 * request that reaches the dispatcher is recorded, including those answered with a transport error.
 */
export class MockGoogleApi {
  readonly agent = new MockAgent()
  readonly requests: RecordedRequest[] = []
  readonly dispatcher: Dispatcher

  constructor () {
    this.agent.disableNetConnect()
    this.dispatcher = this.agent.compose(dispatch => (options, handler) => {
      const headers = (options.headers ?? {}) as Record<string, string>
      this.requests.push({
        origin: String(options.origin),
        method: options.method,
        path: options.path,
        headers: { ...headers },
        body: typeof options.body === 'string' ? options.body : undefined
      })
      return dispatch(options, handler)
    })
  }

  /** Queues answers for the next requests to `origin`, one request each, in order. */
  answer (origin: string, ...answers: Answer[]): this {
    const pool = this.agent.get(origin)
    for (const answer of answers) {
      const interceptor = pool.intercept({ path: () => true, method: () => true })
      if ('error' in answer) interceptor.replyWithError(answer.error)
      else {
        const data = answer.body === undefined ? '' : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body)
        interceptor.reply(answer.status, data, { headers: { 'content-type': 'application/json', ...answer.headers } })
      }
    }
    return this
  }

  /** Answers every request to `origin` the same way, for as long as the test runs. */
  always (origin: string, answer: Answer): this {
    const interceptor = this.agent.get(origin).intercept({ path: () => true, method: () => true })
    if ('error' in answer) interceptor.replyWithError(answer.error).persist()
    else interceptor.reply(answer.status, typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body ?? {}), { headers: { 'content-type': 'application/json', ...answer.headers } }).persist()
    return this
  }

  /** The parsed JSON body of the `index`-th request. */
  bodyOf (index: number): unknown {
    const body = this.requests[index]?.body
    return body === undefined ? undefined : JSON.parse(body)
  }

  async close (): Promise<void> {
    await this.agent.close()
  }
}

/** Google's error JSON, as Cloud Run sends it. */
export const googleError = (code: number, status: string, message: string): { error: { code: number, status: string, message: string } } =>
  ({ error: { code, status, message } })

/** A transport error with a node/undici error code, as undici raises them. */
export const transportError = (code: string, message = code): Error => Object.assign(new Error(message), { code })
