/** What job authors import: their task's place in the execution, and their slice of the work. */
export { taskContext, type TaskContext } from './task-context.js'
export { shard, type Shard } from './shard.js'
export { redactEnv } from './redact.js'
export { createJobLogger } from './log.js'
