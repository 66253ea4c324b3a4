import type { GoogleHttp } from '../google/http.js'
import type { StoredEvent } from './run-record.js'

/** What sends recorded events on: Pub/Sub, or nothing when no topic is set. */
export interface EventPublisher {
  /** Publishes every event or throws (an UpstreamError saying whether anything may have been sent). */
  publish: (events: readonly StoredEvent[]) => Promise<void>
}

/** Pub/Sub's limits on one attribute value, in bytes. */
const MAX_ATTRIBUTE_BYTES = 1024

const TOPIC = /^projects\/([a-z][-a-z0-9]{4,28}[a-z0-9])\/topics\/((?!goog)[A-Za-z][-A-Za-z0-9_.~+%]{2,254})$/

/** Why `topic` is not a Pub/Sub topic name (`projects/P/topics/T`), or undefined when it is one. */
export function topicProblem (topic: string): string | undefined {
  if (TOPIC.test(topic)) return undefined
  return 'must be projects/PROJECT/topics/TOPIC (a topic id: 3 to 255 letters, digits, - _ . ~ + %, starting with a letter, not "goog")'
}

/** One event as a Pub/Sub message in the CloudEvents Pub/Sub binding, binary mode: the Run as data, the context as attributes. */
export function pubsubMessage (event: StoredEvent, source: string): { data: string, attributes: Record<string, string> } {
  const attributes: Record<string, string> = {
    'ce-specversion': '1.0',
    'ce-type': event.type,
    'ce-id': event.id,
    'ce-source': source,
    'ce-subject': event.subject,
    'ce-time': event.time,
    'content-type': 'application/json',
    'jobgate-job': event.job
  }
  // A tenant too long for an attribute cannot be filtered on; it is left out rather than cut (a cut value could name another tenant).
  if (event.tenant !== undefined && Buffer.byteLength(event.tenant) <= MAX_ATTRIBUTE_BYTES) attributes['jobgate-tenant'] = event.tenant
  if (event.batch !== undefined) attributes['jobgate-batch'] = event.batch
  return { data: Buffer.from(JSON.stringify(event.data)).toString('base64'), attributes }
}

/** Pub/Sub's REST `topics.publish` through jobgate's Google HTTP layer: no client library to load at start. */
export class PubsubPublisher implements EventPublisher {
  readonly #http: GoogleHttp
  readonly #url: string
  readonly #source: string

  /** `endpoint`: https://pubsub.googleapis.com, or the emulator's http://PUBSUB_EMULATOR_HOST. */
  constructor (http: GoogleHttp, endpoint: string, topic: string, source: string) {
    this.#http = http
    this.#url = `${endpoint}/v1/${topic}:publish`
    this.#source = source
  }

  async publish (events: readonly StoredEvent[]): Promise<void> {
    if (events.length === 0) return
    await this.#http.call({
      method: 'POST',
      url: this.#url,
      body: { messages: events.map(event => pubsubMessage(event, this.#source)) },
      // A lost answer may mean it was published: the outbox publishes again later (same ce-id), never at once.
      retry: 'unsafe',
      context: {
        service: 'Pub/Sub',
        operation: 'topics.publish',
        permissionAdvice: 'grant jobgate\'s service account roles/pubsub.publisher on the events topic (JOBGATE_EVENTS_TOPIC)',
        notFound: 'the events topic (JOBGATE_EVENTS_TOPIC) does not exist'
      }
    })
  }
}
