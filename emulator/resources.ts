/**
 * The Cloud Run Admin API v1 objects the emulator answers with (field names as in @googleapis/run's
 * run_v1 types). Like the real API (proto3 JSON), zero counts and empty lists are left out.
 */
import type { ExecutionProgress } from '../common/execution-status.js'

export const API_VERSION = 'run.googleapis.com/v1'
export const JOB_LABEL = 'run.googleapis.com/job'
export const JOB_UID_LABEL = 'run.googleapis.com/jobUid'
export const LOCATION_LABEL = 'cloud.googleapis.com/location'
/** What gcloud reads for "Last updated on … by …" and the CREATED BY / RUN BY columns. */
export const LAST_UPDATED_LABEL = 'run.googleapis.com/lastUpdatedTime'
export const CREATOR_ANNOTATION = 'run.googleapis.com/creator'
export const LAST_MODIFIER_ANNOTATION = 'run.googleapis.com/lastModifier'
export const LAUNCH_STAGE_ANNOTATION = 'run.googleapis.com/launch-stage'
/** What a Task carries to find its execution, and its state (gcloud's `--succeeded`/`--failed` filters select on it). */
export const EXECUTION_LABEL = 'run.googleapis.com/execution'
export const EXECUTION_UID_LABEL = 'run.googleapis.com/executionUid'
export const RUNNING_STATE_LABEL = 'run.googleapis.com/runningState'

export type ConditionStatus = 'True' | 'False' | 'Unknown'

export interface V1Condition {
  type: string
  status: ConditionStatus
  reason?: string
  message?: string
  lastTransitionTime: string
  severity?: string
}

export interface V1EnvVar { name: string, value?: string }

export interface V1Container {
  [extra: string]: unknown
  name: string
  image: string
  command?: string[]
  args?: string[]
  env?: V1EnvVar[]
}

export interface V1ObjectMeta {
  name: string
  namespace: string
  uid: string
  generation: number
  resourceVersion: string
  creationTimestamp: string
  selfLink: string
  labels: Record<string, string>
  annotations?: Record<string, string>
  ownerReferences?: Array<{ apiVersion: string, kind: string, name: string, uid: string, controller: boolean, blockOwnerDeletion: boolean }>
}

export interface V1TaskSpec {
  [extra: string]: unknown
  containers: V1Container[]
  maxRetries?: number
  /** int64 in the API, hence a string on the wire. */
  timeoutSeconds: string
  serviceAccountName: string
}

export interface V1TemplateMetadata { labels?: Record<string, string>, annotations?: Record<string, string> }

export interface V1ExecutionSpec {
  taskCount?: number
  parallelism?: number
  template: { spec: V1TaskSpec }
}

export interface V1ExecutionStatus extends ExecutionProgress {
  observedGeneration: number
  conditions: V1Condition[]
  /** Absent when the emulator is told not to link to the Cloud Console (jobgate's local mode). */
  logUri?: string
}

export interface V1Execution {
  apiVersion: string
  kind: 'Execution'
  metadata: V1ObjectMeta
  spec: V1ExecutionSpec
  status: V1ExecutionStatus
}

/** How one task's last attempt ended: `exitCode` when the container exited, `termSignal` when it was killed. */
export interface V1TaskAttemptResult {
  exitCode?: number
  termSignal?: number
  status: { code?: number, message?: string }
}

export interface V1TaskStatus {
  observedGeneration: number
  conditions: V1Condition[]
  /** Left out for task 0, as proto3 JSON leaves out zeros; so is `retried` for a task that ran once. */
  index?: number
  retried?: number
  startTime?: string
  completionTime?: string
  lastAttemptResult?: V1TaskAttemptResult
  logUri: string
}

export interface V1Task {
  apiVersion: string
  kind: 'Task'
  metadata: V1ObjectMeta
  spec: V1TaskSpec
  status: V1TaskStatus
}

export interface V1ExecutionReference {
  name: string
  creationTimestamp: string
  completionTimestamp?: string
  completionStatus: 'EXECUTION_SUCCEEDED' | 'EXECUTION_FAILED' | 'EXECUTION_RUNNING' | 'EXECUTION_PENDING' | 'EXECUTION_CANCELLED'
}

export interface V1Job {
  apiVersion: string
  kind: 'Job'
  metadata: V1ObjectMeta
  spec: { template: { metadata: V1TemplateMetadata, spec: V1ExecutionSpec } }
  status: { observedGeneration: number, conditions: V1Condition[], executionCount?: number, latestCreatedExecution?: V1ExecutionReference }
}

export interface V1List<T> {
  apiVersion: string
  kind: string
  metadata: { continue?: string, resourceVersion?: string }
  items?: T[]
}

export interface V1Status {
  apiVersion: string
  kind: 'Status'
  status: 'Success'
  details: { name: string, group: string, kind: string, uid: string }
}

/** A copy of `counts` without its zero (or undefined) members, as proto3 JSON would send them. */
export function withoutZeros<T extends Record<string, number | undefined>> (counts: T): Partial<T> {
  const out: Partial<T> = {}
  for (const key of Object.keys(counts) as Array<keyof T>) {
    if (counts[key]) out[key] = counts[key]
  }
  return out
}

export function listOf<T> (kind: string, items: T[], next?: string): V1List<T> {
  const list: V1List<T> = { apiVersion: API_VERSION, kind, metadata: {} }
  if (next !== undefined) list.metadata.continue = next
  if (items.length > 0) list.items = items
  return list
}

/** What Cloud Run v1 answers to a delete. */
export function deletedStatus (kind: 'jobs' | 'executions', name: string, uid: string): V1Status {
  return { apiVersion: API_VERSION, kind: 'Status', status: 'Success', details: { name, group: 'run.googleapis.com', kind, uid } }
}

/** The Cloud Console link Cloud Run puts in `status.logUri`: the logs of one execution. */
export function executionLogUri (project: string, job: string, region: string, execution: string, taskIndex?: number): string {
  const filter = [
    'resource.type="cloud_run_job"',
    `resource.labels.job_name="${job}"`,
    `resource.labels.location="${region}"`,
    `labels."run.googleapis.com/execution_name"="${execution}"`,
    ...(taskIndex === undefined ? [] : [`labels."run.googleapis.com/task_index"="${taskIndex}"`])
  ].join('\n')
  return `https://console.cloud.google.com/logs/viewer?project=${encodeURIComponent(project)}&advancedFilter=${encodeURIComponent(filter)}`
}
