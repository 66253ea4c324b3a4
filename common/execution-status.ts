/** Cloud Run v1 Execution status: when the run ran and how its tasks stand. The API reads it; the emulator writes it. */
export interface ExecutionProgress {
  startTime?: string
  completionTime?: string
  runningCount?: number
  succeededCount?: number
  failedCount?: number
  cancelledCount?: number
  retriedCount?: number
}
