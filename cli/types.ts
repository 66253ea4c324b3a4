/** The wire types of the jobgate API as the CLI reads them: the API's own schemas (type-only, so no schema library loads). */
export type { Run, RunList, RunRequest, RunState } from '../api/schemas/run.js'
export type { Batch } from '../api/schemas/batch.js'
export type { RunLogEntry as LogEntry, RunLogPage as LogPage } from '../api/schemas/logs.js'
export type { RunTask, RunTaskPage } from '../api/schemas/tasks.js'
export type { JobList, JobSummary } from '../api/schemas/jobs.js'
