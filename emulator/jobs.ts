import { randomUUID } from 'node:crypto'
import { GoogleError, invalidArgument, resourceNotFound } from './errors.js'
import type { EmulatorJob } from './options.js'
import type { Projects } from './projects.js'
import {
  API_VERSION, LOCATION_LABEL, withoutZeros,
  type V1Container, type V1EnvVar, type V1ExecutionReference, type V1Job, type V1TaskSpec
} from './resources.js'
import { asRecord, optionalInteger, optionalString, optionalStringArray } from './wire.js'

/** Env names Cloud Run sets itself and refuses from users. */
const reservedEnvNames = new Set(['CLOUD_RUN_JOB', 'CLOUD_RUN_EXECUTION', 'CLOUD_RUN_TASK_INDEX', 'CLOUD_RUN_TASK_ATTEMPT', 'CLOUD_RUN_TASK_COUNT', 'PORT', 'K_SERVICE', 'K_REVISION', 'K_CONFIGURATION'])
const jobNamePattern = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/
export const MAX_TASK_COUNT = 10_000
export const MAX_RETRIES = 10
export const MAX_TIMEOUT_SECONDS = 7 * 24 * 3600

/** A job as the emulator keeps it: its template, ready to be turned into executions. */
export interface JobRecord {
  project: string
  region: string
  name: string
  uid: string
  generation: number
  createdAt: Date
  labels: Record<string, string>
  annotations: Record<string, string>
  containerName: string
  image: string
  command: string[]
  args: string[]
  env: V1EnvVar[]
  taskCount: number
  parallelism: number
  maxRetries: number
  timeoutSeconds: number
  serviceAccountName: string
}

/** Rejects env names Cloud Run reserves, as Cloud Run does. */
export function checkEnvNames (env: V1EnvVar[]): void {
  const reserved = env.map(e => e.name).filter(name => reservedEnvNames.has(name))
  if (reserved.length > 0) {
    throw invalidArgument(`The following reserved env names were provided: ${reserved.join(', ')}. These values are automatically set by the system.`)
  }
}

export function checkRange (field: string, value: number, min: number, max: number): number {
  if (value < min || value > max) throw invalidArgument(`${field}: must be between ${min} and ${max}, got ${value}.`)
  return value
}

/** The container's env as an ordered list; later entries with the same name win, as on Cloud Run. */
export function parseEnvList (field: string, raw: unknown): V1EnvVar[] {
  if (raw === undefined || raw === null) return []
  if (!Array.isArray(raw)) throw invalidArgument(`${field}: must be a list of {name, value}.`)
  return raw.map((item, i) => {
    const entry = asRecord(item, `${field}[${i}]`)
    if (entry.valueFrom !== undefined) throw invalidArgument(`${field}[${i}].valueFrom: secrets are not supported by the emulator.`)
    const name = optionalString(entry.name, `${field}[${i}].name`)
    if (!name) throw invalidArgument(`${field}[${i}].name: Required.`)
    return { name, value: optionalString(entry.value, `${field}[${i}].value`) ?? '' }
  })
}

export interface JobDefaults {
  region: string
  command: string[]
  serviceAccountName: (project: string) => string
}

/** Builds the record of a job given to the emulator in code or configuration. */
export function jobFromConfig (job: EmulatorJob, defaults: JobDefaults): JobRecord {
  if (!jobNamePattern.test(job.name)) throw new RangeError(`job name ${JSON.stringify(job.name)} is not a valid Cloud Run job name`)
  if (job.command !== undefined && job.command.length === 0) throw new RangeError(`job ${job.name}: command must not be empty`)
  const env = Object.entries(job.env ?? {}).map(([name, value]) => ({ name, value }))
  checkEnvNames(env)
  return {
    project: job.project,
    region: job.region ?? defaults.region,
    name: job.name,
    uid: randomUUID(),
    generation: 1,
    createdAt: new Date(),
    labels: {},
    annotations: {},
    containerName: job.containerName ?? 'job',
    image: `emulator.local/${job.name}:latest`,
    command: job.command ?? defaults.command,
    args: job.args ?? [],
    env,
    taskCount: checkRange('taskCount', job.taskCount ?? 1, 1, MAX_TASK_COUNT),
    parallelism: checkRange('parallelism', job.parallelism ?? 0, 0, MAX_TASK_COUNT),
    maxRetries: checkRange('maxRetries', job.maxRetries ?? 3, 0, MAX_RETRIES),
    timeoutSeconds: checkRange('timeoutSeconds', job.timeoutSeconds ?? 600, 1, MAX_TIMEOUT_SECONDS),
    serviceAccountName: defaults.serviceAccountName(job.project)
  }
}

/** Reads a v1 Job body (create/replace) into a record; only what the emulator can honour is kept. */
export function jobFromResource (project: string, body: unknown, defaults: JobDefaults): JobRecord {
  const job = asRecord(body, 'job')
  const metadata = asRecord(job.metadata ?? {}, 'metadata')
  const name = optionalString(metadata.name, 'metadata.name')
  if (!name) throw invalidArgument('metadata.name: Required.')
  if (!jobNamePattern.test(name)) throw invalidArgument(`metadata.name: '${name}' must use only lowercase alphanumeric characters and dashes, cannot begin or end with a dash, and cannot be longer than 63 characters.`)
  const labels = stringMap(metadata.labels, 'metadata.labels')
  const executionSpec = asRecord(asRecord(asRecord(job.spec ?? {}, 'spec').template ?? {}, 'spec.template').spec ?? {}, 'spec.template.spec')
  const taskSpecPath = 'spec.template.spec.template.spec'
  const taskSpec = asRecord(asRecord(executionSpec.template ?? {}, 'spec.template.spec.template').spec ?? {}, taskSpecPath)
  const containers = taskSpec.containers
  if (!Array.isArray(containers) || containers.length !== 1) throw invalidArgument(`${taskSpecPath}.containers: exactly one container is supported by the emulator.`)
  const container = asRecord(containers[0], `${taskSpecPath}.containers[0]`)
  const image = optionalString(container.image, `${taskSpecPath}.containers[0].image`)
  if (!image) throw invalidArgument(`${taskSpecPath}.containers[0].image: Required.`)
  const env = parseEnvList(`${taskSpecPath}.containers[0].env`, container.env)
  checkEnvNames(env)
  const timeout = typeof taskSpec.timeoutSeconds === 'string' && /^\d+$/.test(taskSpec.timeoutSeconds) ? Number(taskSpec.timeoutSeconds) : taskSpec.timeoutSeconds
  return {
    project,
    region: labels[LOCATION_LABEL] ?? defaults.region,
    name,
    uid: randomUUID(),
    generation: 1,
    createdAt: new Date(),
    labels,
    annotations: stringMap(metadata.annotations, 'metadata.annotations'),
    containerName: optionalString(container.name, `${taskSpecPath}.containers[0].name`) ?? 'job',
    image,
    // An empty command is no command (proto3), so the "image's entrypoint", the default, applies.
    command: nonEmpty(optionalStringArray(container.command, `${taskSpecPath}.containers[0].command`)) ?? defaults.command,
    args: optionalStringArray(container.args, `${taskSpecPath}.containers[0].args`) ?? [],
    env,
    taskCount: checkRange('spec.template.spec.taskCount', optionalInteger(executionSpec.taskCount, 'spec.template.spec.taskCount') ?? 1, 1, MAX_TASK_COUNT),
    parallelism: checkRange('spec.template.spec.parallelism', optionalInteger(executionSpec.parallelism, 'spec.template.spec.parallelism') ?? 0, 0, MAX_TASK_COUNT),
    maxRetries: checkRange(`${taskSpecPath}.maxRetries`, optionalInteger(taskSpec.maxRetries, `${taskSpecPath}.maxRetries`) ?? 3, 0, MAX_RETRIES),
    timeoutSeconds: checkRange(`${taskSpecPath}.timeoutSeconds`, optionalInteger(timeout, `${taskSpecPath}.timeoutSeconds`) ?? 600, 1, MAX_TIMEOUT_SECONDS),
    serviceAccountName: optionalString(taskSpec.serviceAccountName, `${taskSpecPath}.serviceAccountName`) ?? defaults.serviceAccountName(project)
  }
}

function nonEmpty (list: string[] | undefined): string[] | undefined {
  return list !== undefined && list.length > 0 ? list : undefined
}

function stringMap (raw: unknown, field: string): Record<string, string> {
  if (raw === undefined || raw === null) return {}
  const map = asRecord(raw, field)
  for (const [key, value] of Object.entries(map)) {
    if (typeof value !== 'string') throw invalidArgument(`${field}.${key}: must be a string.`)
  }
  return map as Record<string, string>
}

/** The task template shared by a job and its executions. */
export function taskSpecOf (template: Pick<JobRecord, 'containerName' | 'image' | 'command' | 'args' | 'env' | 'maxRetries' | 'timeoutSeconds' | 'serviceAccountName'>): V1TaskSpec {
  const container: V1Container = { name: template.containerName, image: template.image, command: template.command }
  if (template.args.length > 0) container.args = template.args
  if (template.env.length > 0) container.env = template.env
  const spec: V1TaskSpec = { containers: [container], timeoutSeconds: String(template.timeoutSeconds), serviceAccountName: template.serviceAccountName }
  if (template.maxRetries > 0) spec.maxRetries = template.maxRetries
  return spec
}

export function selfLink (projectNumber: string, collection: 'jobs' | 'executions', name: string): string {
  return `/apis/run.googleapis.com/v1/namespaces/${projectNumber}/${collection}/${name}`
}

/** The v1 Job resource for a record, with what its executions say about it. */
export function jobResource (job: JobRecord, projectNumber: string, executions: { count: number, latest?: V1ExecutionReference }): V1Job {
  const resource: V1Job = {
    apiVersion: API_VERSION,
    kind: 'Job',
    metadata: {
      name: job.name,
      namespace: projectNumber,
      uid: job.uid,
      generation: job.generation,
      resourceVersion: `${job.generation}-${executions.count}`,
      creationTimestamp: job.createdAt.toISOString(),
      selfLink: selfLink(projectNumber, 'jobs', job.name),
      labels: { ...job.labels, [LOCATION_LABEL]: job.region },
      annotations: { 'run.googleapis.com/launch-stage': 'GA', ...job.annotations }
    },
    spec: {
      template: {
        spec: { ...withoutZeros({ taskCount: job.taskCount, parallelism: job.parallelism }), template: { spec: taskSpecOf(job) } }
      }
    },
    status: {
      observedGeneration: job.generation,
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: job.createdAt.toISOString() }],
      ...withoutZeros({ executionCount: executions.count })
    }
  }
  if (executions.latest) resource.status.latestCreatedExecution = executions.latest
  return resource
}

/** All jobs, by project then name. */
export class JobStore {
  private readonly jobs = new Map<string, JobRecord>()

  constructor (private readonly projects: Projects) {}

  private key (project: string, name: string): string {
    return `${project}/${name}`
  }

  /** Adds or replaces a job given in code (no API rules apply). */
  put (job: JobRecord): void {
    this.projects.numberOf(job.project)
    this.jobs.set(this.key(job.project, job.name), job)
  }

  get (project: string, name: string): JobRecord | undefined {
    return this.jobs.get(this.key(project, name))
  }

  /** The job, or Cloud Run's 404. */
  require (project: string, name: string, region: string): JobRecord {
    const job = this.get(project, name)
    if (!job) throw resourceNotFound(name, 'JOB', region, project)
    return job
  }

  list (project: string): JobRecord[] {
    return [...this.jobs.values()].filter(job => job.project === project).sort((a, b) => a.name.localeCompare(b.name))
  }

  create (job: JobRecord): JobRecord {
    if (this.get(job.project, job.name)) throw new GoogleError('ALREADY_EXISTS', `Resource '${job.name}' already exists.`)
    this.put(job)
    return job
  }

  /** Replaces the template of an existing job, keeping its identity. */
  replace (existing: JobRecord, update: JobRecord): JobRecord {
    const replaced: JobRecord = { ...update, uid: existing.uid, createdAt: existing.createdAt, generation: existing.generation + 1 }
    this.put(replaced)
    return replaced
  }

  delete (job: JobRecord): void {
    this.jobs.delete(this.key(job.project, job.name))
  }
}
