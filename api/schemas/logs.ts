import { Type, type Static } from 'typebox'

export const RunLogEntry = Type.Object({
  timestamp: Type.String(),
  severity: Type.String(),
  taskIndex: Type.Optional(Type.Integer()),
  message: Type.String(),
  payload: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  insertId: Type.Optional(Type.String({ description: 'Cloud Logging\'s id: stable, so followers can skip what they printed' }))
})
/** One line a run's task wrote. */
export type RunLogEntry = Static<typeof RunLogEntry>

export const RunLogPage = Type.Object({
  entries: Type.Array(RunLogEntry),
  nextPageToken: Type.Optional(Type.String())
})
export type RunLogPage = Static<typeof RunLogPage>

/** RFC 3339 with a zone, as Cloud Logging writes timestamps. */
export const RFC3339 = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})$'

export const LogsQuery = Type.Object({
  since: Type.Optional(Type.String({ pattern: RFC3339, maxLength: 40, description: 'only entries at or after this time: followers ask for what is new' })),
  pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  pageToken: Type.Optional(Type.String({ maxLength: 4096, pattern: '^[A-Za-z0-9_=+/.-]*$' })),
  taskIndex: Type.Optional(Type.Integer({ minimum: 0, description: 'only the lines of this task (a task\'s links.logs)' }))
}, { additionalProperties: false })
