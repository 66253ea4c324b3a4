import { createHash } from 'node:crypto'
import type { PubsubRest } from '../events/pubsub-rest.js'

export interface ReceivedMessage {
  attributes: Record<string, string>
  data: any
}

interface PulledMessage { ackId: string, message: { data?: string, attributes?: Record<string, string> } }

/** Pulls a subscription in the background, acknowledging everything, and keeps every message received. */
export class MessageCollector {
  readonly messages: ReceivedMessage[] = []
  readonly #rest: PubsubRest
  readonly #subscription: string
  #stopped = false
  readonly #loop: Promise<void>

  constructor (rest: PubsubRest, subscription: string) {
    this.#rest = rest
    this.#subscription = subscription
    this.#loop = this.#run()
  }

  async #pullOnce (): Promise<number> {
    const { receivedMessages = [] } = await this.#rest.send('POST', `/subscriptions/${this.#subscription}:pull`, { maxMessages: 100, returnImmediately: true }) as
      { receivedMessages?: PulledMessage[] }
    for (const { message } of receivedMessages) {
      this.messages.push({ attributes: message.attributes ?? {}, data: JSON.parse(Buffer.from(message.data ?? '', 'base64').toString() || 'null') })
    }
    if (receivedMessages.length > 0) {
      await this.#rest.send('POST', `/subscriptions/${this.#subscription}:acknowledge`, { ackIds: receivedMessages.map(m => m.ackId) })
    }
    return receivedMessages.length
  }

  async #run (): Promise<void> {
    while (!this.#stopped) {
      const got = await this.#pullOnce().catch(() => 0)
      if (got === 0) await new Promise(resolve => setTimeout(resolve, 200))
    }
  }

  /** How many messages of `type` came for `run`. */
  count (type: string, run: string): number {
    return this.messages.filter(m => m.attributes['ce-type'] === type && m.attributes['ce-subject']?.endsWith(`/runs/${run}`) === true).length
  }

  finished (run: string): ReceivedMessage | undefined {
    return this.messages.find(m => m.attributes['ce-type'] === 'jobgate.run.finished' && m.attributes['ce-subject']?.endsWith(`/runs/${run}`) === true)
  }

  /** Pulls until two pulls in a row bring nothing. */
  async drain (): Promise<void> {
    this.stop()
    await this.#loop
    let empty = 0
    while (empty < 2) empty = await this.#pullOnce() === 0 ? empty + 1 : 0
    this.#stopped = false
    void this.#run()
  }

  stop (): void {
    this.#stopped = true
  }
}

interface Document { name: string, fields?: Record<string, Record<string, unknown>> }

/** What jobgate keeps in the Firestore emulator, read over its REST API. */
export class FirestoreReader {
  readonly #base: string
  readonly #collection: string

  constructor (hostPort: string, project: string, collection: string) {
    this.#base = `http://${hostPort}/v1/projects/${project}/databases/(default)/documents`
    this.#collection = collection
  }

  async #documents (collection: string): Promise<Document[]> {
    const documents: Document[] = []
    let pageToken = ''
    do {
      const response = await fetch(`${this.#base}/${collection}?pageSize=300${pageToken === '' ? '' : `&pageToken=${pageToken}`}`, {
        headers: { authorization: 'Bearer owner' }
      })
      const page = await response.json() as { documents?: Document[], nextPageToken?: string }
      documents.push(...page.documents ?? [])
      pageToken = page.nextPageToken ?? ''
    } while (pageToken !== '')
    return documents
  }

  /** Events recorded and not yet marked published. */
  async unpublished (): Promise<number> {
    const events = await this.#documents(`${this.#collection}-events`)
    return events.filter(doc => doc.fields?.published?.booleanValue === false).length
  }

  /** The subjects of the events of `type` in the log (`{collection}-events`), one per event recorded. */
  async subjectsOf (type: string): Promise<string[]> {
    const events = await this.#documents(`${this.#collection}-events`)
    return events.filter(doc => doc.fields?.type?.stringValue === type).map(doc => doc.fields?.subject?.stringValue as string)
  }

  /** The reconciler lease of a job. */
  async lease (job: string): Promise<{ holder: string, idle: boolean } | undefined> {
    const id = `reconciler-${createHash('sha256').update(job).digest('hex').slice(0, 32)}`
    const response = await fetch(`${this.#base}/${this.#collection}/${id}`, { headers: { authorization: 'Bearer owner' } })
    if (response.status === 404) return undefined
    const doc = await response.json() as Document
    return { holder: doc.fields?.holder?.stringValue as string, idle: doc.fields?.idle?.booleanValue as boolean }
  }
}

/** Polls an async `check` until it holds or `timeoutMs` passes. */
export async function eventually (check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!await check()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}
