import { Type, type Static } from 'typebox'
import { ExecutionState } from './run.js'

export const RunTask = Type.Object({
  index: Type.Integer({ minimum: 0 }),
  state: ExecutionState,
  attempts: Type.Integer({ minimum: 0, description: 'how many times the task ran (its retries plus the first attempt); 0 before it first started' }),
  exitCode: Type.Optional(Type.Integer({ description: 'the last attempt\'s exit code' })),
  termSignal: Type.Optional(Type.Integer({ description: 'the signal that ended the last attempt (a timeout, a cancel)' })),
  message: Type.Optional(Type.String({ description: 'why the last attempt failed, as Cloud Run reports it' })),
  startTime: Type.Optional(Type.String()),
  completionTime: Type.Optional(Type.String()),
  logUri: Type.Optional(Type.String({ description: 'the task\'s lines in the Cloud Console' })),
  links: Type.Object({ logs: Type.String({ description: 'the task\'s log lines from jobgate\'s logs route' }) })
}, { $id: 'Task' })
/** One task of a run. */
export type RunTask = Static<typeof RunTask>

export const RunTaskPage = Type.Object({
  tasks: Type.Array(RunTask),
  nextPageToken: Type.Optional(Type.String())
})
export type RunTaskPage = Static<typeof RunTaskPage>

export const TasksQuery = Type.Object({
  state: Type.Optional(ExecutionState),
  pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'default 100' })),
  pageToken: Type.Optional(Type.String({ maxLength: 20, pattern: '^\\d{1,9}$' }))
}, { additionalProperties: false })
export type TasksQuery = Static<typeof TasksQuery>
