import { Type, type Static } from 'typebox'
import { EnvName, ResourceName } from './names.js'

/** Cloud Run's own ceilings: 10,000 tasks per execution, 168 h per task. */
export const CLOUD_RUN_MAX_TASK_COUNT = 10_000
export const CLOUD_RUN_MAX_TIMEOUT_SECONDS = 168 * 3600

export const EnvPolicy = Type.Object({
  allow: Type.Optional(Type.Array(Type.String({ pattern: '^([A-Za-z0-9_]+\\*?|\\*)$' }), { description: 'names or NAME_* prefixes that may be overridden; "*": any name that is not protected' })),
  tenantKey: Type.Optional(EnvName),
  refuseSecretNames: Type.Optional(Type.Boolean({
    description: 'refuse overrides whose names look like secrets (*TOKEN*, *SECRET*, *PASSWORD*, *KEY*, *CREDENTIAL*): an override is stored in the execution'
  }))
}, { additionalProperties: false })

export const ArgsPolicy = Type.Object({
  allow: Type.Optional(Type.Boolean()),
  maxItems: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 }))
}, { additionalProperties: false })

/** How a Pub/Sub message becomes a run request: templates such as `{attributes.bucketId}` or `{data.name}`. */
export const PubsubMappingPolicy = Type.Object(
  {
    env: Type.Optional(
      Type.Record(EnvName, Type.String({ maxLength: 4096 }), {
        maxProperties: 100,
        additionalProperties: false,
        description: 'NAME → template'
      })
    ),
    args: Type.Optional(Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 100, description: 'templates, one per argument' })),
    filter: Type.Optional(
      Type.Record(Type.String({ minLength: 1, maxLength: 256 }), Type.Union([Type.String(), Type.Array(Type.String(), { minItems: 1 })]), {
        description: 'attribute → value or values; a message missing any of them is acknowledged without a run'
      })
    )
  },
  { additionalProperties: false }
)

/** Kubernetes CronJob's concurrencyPolicy, per job or per tenant; absent = Allow (no limit). */
export const ConcurrencyPolicy = Type.Object({
  policy: Type.Union([Type.Literal('Allow'), Type.Literal('Forbid'), Type.Literal('Replace'), Type.Literal('Queue')], {
    description: 'Allow: no limit; Forbid: refuse a start (409) while maxRunning runs are running; ' +
      'Replace: cancel the oldest running run(s), then start; ' +
      'Queue: hold the start (202, state QUEUED) until a run ends, admitting tenants in turn'
  }),
  maxRunning: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'running runs allowed at once in the scope; default 1' })),
  scope: Type.Optional(Type.Union([Type.Literal('job'), Type.Literal('tenant')], {
    description: 'job: count all runs of the job; tenant: count per value of env.tenantKey (needs it); default job'
  })),
  onConflict: Type.Optional(Type.Union([Type.Literal('retry'), Type.Literal('drop')], {
    description: 'push routes under Forbid: retry = 429 with Retry-After (redelivered later); drop = acknowledged without a run; default retry'
  })),
  queueTimeoutSeconds: Type.Optional(Type.Integer({
    minimum: 1,
    maximum: 7 * 86_400,
    description: 'Queue: a run queued this long ends FAILED with reason QUEUE_TIMEOUT, never started; default 86400 (24 h)'
  }))
}, { additionalProperties: false })

/** Run events (api/lifecycle/) beyond the runs jobgate starts. */
export const EventsPolicy = Type.Object({
  external: Type.Optional(Type.Boolean({
    description: 'also follow runs started outside jobgate (gcloud, the Console, Cloud Scheduler) and publish their events; costs one list call per 5 s while jobgate runs'
  }))
}, { additionalProperties: false })

export const CatalogEntry = Type.Object({
  description: Type.Optional(Type.String({ maxLength: 1000 })),
  project: Type.Optional(Type.String({ pattern: '^[a-z][-a-z0-9]{4,28}[a-z0-9]$|^[0-9]+$' })),
  region: Type.Optional(Type.String({ pattern: '^[a-z]+-[a-z]+[0-9]+$' })),
  job: Type.Optional(ResourceName),
  container: Type.Optional(Type.String({ pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 })),
  env: Type.Optional(EnvPolicy),
  args: Type.Optional(ArgsPolicy),
  maxTaskCount: Type.Optional(Type.Integer({ minimum: 1, maximum: CLOUD_RUN_MAX_TASK_COUNT })),
  maxTimeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: CLOUD_RUN_MAX_TIMEOUT_SECONDS })),
  principals: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 320 }), { description: 'who may run this job: names, emails, *@domain, or *' })),
  pubsub: Type.Optional(PubsubMappingPolicy),
  concurrency: Type.Optional(ConcurrencyPolicy),
  events: Type.Optional(EventsPolicy)
}, { additionalProperties: false })

export const Catalog = Type.Object({
  jobs: Type.Record(Type.String(), CatalogEntry)
}, { additionalProperties: false })

export type CatalogEntry = Static<typeof CatalogEntry>
export type PubsubMappingPolicy = Static<typeof PubsubMappingPolicy>
export type ConcurrencyPolicy = Static<typeof ConcurrencyPolicy>
export type Catalog = Static<typeof Catalog>
