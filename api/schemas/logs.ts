import { Type } from 'typebox'

export const RunLogEntry = Type.Object({
  timestamp: Type.String(),
  severity: Type.String(),
  taskIndex: Type.Optional(Type.Integer()),
  message: Type.String(),
  payload: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  insertId: Type.Optional(Type.String())
})

export const RunLogPage = Type.Object({
  entries: Type.Array(RunLogEntry),
  nextPageToken: Type.Optional(Type.String())
})

export const LogsQuery = Type.Object({
  pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  pageToken: Type.Optional(Type.String({ maxLength: 4096, pattern: '^[A-Za-z0-9_=+/.-]*$' }))
}, { additionalProperties: false })
