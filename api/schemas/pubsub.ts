import { Type, type Static } from 'typebox'

/** Standard base64 with padding, as Pub/Sub encodes `message.data` in JSON (empty when a message has no data). */
const BASE64_PATTERN = '^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$'
/** RFC 3339 UTC timestamps with up to nine fractional digits, as Pub/Sub writes `publishTime`. */
const TIMESTAMP_PATTERN = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(?:\\.\\d{1,9})?(?:Z|[+-]\\d{2}:\\d{2})$'
export const SUBSCRIPTION_PATTERN = '^projects/[^/\\s]{1,255}/subscriptions/[^/\\s]{1,255}$'
const MESSAGE_ID = Type.String({ minLength: 1, maxLength: 256, pattern: '^[\\x21-\\x7e]+$' })

/**
 * The message inside a push envelope. The fields jobgate reads are checked strictly; other fields Google
 * sends (snake_case duplicates `message_id` / `publish_time`, `orderingKey`, future additions) are accepted,
 * so a new field never turns every delivery into an error.
 */
export const PushMessage = Type.Object({
  data: Type.Optional(Type.String({ pattern: BASE64_PATTERN, description: 'the message payload, base64' })),
  attributes: Type.Optional(Type.Record(Type.String({ maxLength: 256 }), Type.String({ maxLength: 1024 }), { maxProperties: 100 })),
  messageId: MESSAGE_ID,
  publishTime: Type.String({ pattern: TIMESTAMP_PATTERN }),
  message_id: Type.Optional(MESSAGE_ID),
  publish_time: Type.Optional(Type.String({ pattern: TIMESTAMP_PATTERN })),
  orderingKey: Type.Optional(Type.String({ maxLength: 1024 }))
})
export type PushMessage = Static<typeof PushMessage>

/** What Pub/Sub POSTs to a push endpoint (wrapped payload; "payload unwrapping" must be off). */
export const PushEnvelope = Type.Object({
  message: PushMessage,
  subscription: Type.String({ pattern: SUBSCRIPTION_PATTERN, maxLength: 600 }),
  deliveryAttempt: Type.Optional(Type.Integer({ minimum: 1, description: 'set when the subscription has a dead-letter policy' }))
}, { $id: 'PubsubPushEnvelope' })
export type PushEnvelope = Static<typeof PushEnvelope>
