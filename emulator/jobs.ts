import { randomUUID } from 'node:crypto'
import { GoogleError, invalidArgument, resourceNotFound } from './errors.js'
import type { EmulatorJob } from './options.js'
import type { Projects } from './projects.js'
import { checkMessage } from './schema.js'
import {
  API_VERSION, CREATOR_ANNOTATION, LAST_MODIFIER_ANNOTATION, LAST_UPDATED_LABEL, LAUNCH_STAGE_ANNOTATION, LOCATION_LABEL, withoutZeros,
  type V1Container, type V1EnvVar, type V1ExecutionReference, type V1Job, type V1TaskSpec, type V1TemplateMetadata
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
  /** When the job's template last changed, and by whom (Cloud Run's lastUpdatedTime label and creator/lastModifier annotations). */
  updatedAt: Date
  creator: string
  lastModifier: string
  labels: Record<string, string>
  annotations: Record<string, string>
  /** `spec.template.metadata`: what each execution's metadata starts from. */
  templateLabels: Record<string, string>
  templateAnnotations: Record<string, string>
  containerName: string
  /** Container and TaskSpec fields the emulator stores and returns but does not act on (resources, ports, volumes, …). */
  containerExtras: Record<string, unknown>
  taskSpecExtras: Record<string, unknown>
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
  /** Who calls the API: tokens carry no identity, so every caller is the metadata server's service account. */
  caller: string
}

/** The parts of a record every new job starts with. */
function newIdentity (defaults: JobDefaults): Pick<JobRecord, 'uid' | 'generation' | 'createdAt' | 'updatedAt' | 'creator' | 'lastModifier'> {
  const now = new Date()
  return { uid: randomUUID(), generation: 1, createdAt: now, updatedAt: now, creator: defaults.caller, lastModifier: defaults.caller }
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
    ...newIdentity(defaults),
    labels: {},
    annotations: {},
    templateLabels: {},
    templateAnnotations: {},
    containerName: job.containerName ?? 'job',
    containerExtras: {},
    taskSpecExtras: {},
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

const modelledContainerFields = ['name', 'image', 'command', 'args', 'env']
const modelledTaskSpecFields = ['containers', 'maxRetries', 'timeoutSeconds', 'serviceAccountName']

function extras (record: Record<string, unknown>, modelled: string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([key, value]) => !modelled.includes(key) && value !== null))
}

/**
 * Reads a v1 Job body (create, or replace: the whole job, so what it leaves out is reset). The body
 * must be a valid v1 Job (unknown fields are a 400); output-only fields (status, uid, …) are ignored.
 */
export function jobFromResource (project: string, body: unknown, defaults: JobDefaults): JobRecord {
  checkMessage(body, 'Job', 'job')
  const job = asRecord(body, 'job')
  const metadata = asRecord(job.metadata ?? {}, 'metadata')
  const name = optionalString(metadata.name, 'metadata.name')
  if (!name) throw invalidArgument('metadata.name: Required.')
  if (!jobNamePattern.test(name)) throw invalidArgument(`metadata.name: '${name}' must use only lowercase alphanumeric characters and dashes, cannot begin or end with a dash, and cannot be longer than 63 characters.`)
  const labels = stringMap(metadata.labels, 'metadata.labels')
  const template = asRecord(asRecord(job.spec ?? {}, 'spec').template ?? {}, 'spec.template')
  const templateMetadata = asRecord(template.metadata ?? {}, 'spec.template.metadata')
  const executionSpec = asRecord(template.spec ?? {}, 'spec.template.spec')
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
    ...newIdentity(defaults),
    labels: withoutServerLabels(labels),
    annotations: withoutServerAnnotations(stringMap(metadata.annotations, 'metadata.annotations')),
    templateLabels: stringMap(templateMetadata.labels, 'spec.template.metadata.labels'),
    templateAnnotations: stringMap(templateMetadata.annotations, 'spec.template.metadata.annotations'),
    containerName: optionalString(container.name, `${taskSpecPath}.containers[0].name`) || 'job',
    containerExtras: extras(container, modelledContainerFields),
    taskSpecExtras: extras(taskSpec, modelledTaskSpecFields),
    image,
    // An empty command is no command (proto3), so the "image's entrypoint", the default, applies.
    command: nonEmpty(optionalStringArray(container.command, `${taskSpecPath}.containers[0].command`)) ?? defaults.command,
    args: optionalStringArray(container.args, `${taskSpecPath}.containers[0].args`) ?? [],
    env,
    taskCount: checkRange('spec.template.spec.taskCount', optionalInteger(executionSpec.taskCount, 'spec.template.spec.taskCount') ?? 1, 1, MAX_TASK_COUNT),
    parallelism: checkRange('spec.template.spec.parallelism', optionalInteger(executionSpec.parallelism, 'spec.template.spec.parallelism') ?? 0, 0, MAX_TASK_COUNT),
    maxRetries: checkRange(`${taskSpecPath}.maxRetries`, optionalInteger(taskSpec.maxRetries, `${taskSpecPath}.maxRetries`) ?? 3, 0, MAX_RETRIES),
    timeoutSeconds: checkRange(`${taskSpecPath}.timeoutSeconds`, optionalInteger(timeout, `${taskSpecPath}.timeoutSeconds`) ?? 600, 1, MAX_TIMEOUT_SECONDS),
    serviceAccountName: optionalString(taskSpec.serviceAccountName, `${taskSpecPath}.serviceAccountName`) || defaults.serviceAccountName(project)
  }
}

/** Labels and annotations Cloud Run sets itself: what a client sends for them is replaced. */
function withoutServerLabels (labels: Record<string, string>): Record<string, string> {
  const { [LAST_UPDATED_LABEL]: _updated, ...rest } = labels
  return rest
}

function withoutServerAnnotations (annotations: Record<string, string>): Record<string, string> {
  const { [CREATOR_ANNOTATION]: _creator, [LAST_MODIFIER_ANNOTATION]: _modifier, ...rest } = annotations
  return rest
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
export function taskSpecOf (template: Pick<JobRecord, 'containerName' | 'containerExtras' | 'taskSpecExtras' | 'image' | 'command' | 'args' | 'env' | 'maxRetries' | 'timeoutSeconds' | 'serviceAccountName'>): V1TaskSpec {
  const container: V1Container = {
    ...template.containerExtras,
    name: template.containerName,
    image: template.image,
    command: template.command
  }
  if (template.args.length > 0) container.args = template.args
  if (template.env.length > 0) container.env = template.env
  // maxRetries is sent even when 0: it is an `optional` field, and a client replacing the job must not turn 0 into the default 3.
  return {
    ...template.taskSpecExtras,
    containers: [container],
    maxRetries: template.maxRetries,
    timeoutSeconds: String(template.timeoutSeconds),
    serviceAccountName: template.serviceAccountName
  }
}

/** `metadata.labels`/`annotations` of a template, leaving out what is empty, as the API does. */
export function templateMetadata (labels: Record<string, string>, annotations: Record<string, string>): V1TemplateMetadata {
  const metadata: V1TemplateMetadata = {}
  if (Object.keys(labels).length > 0) metadata.labels = labels
  if (Object.keys(annotations).length > 0) metadata.annotations = annotations
  return metadata
}

export function selfLink (projectNumber: string, collection: 'jobs' | 'executions' | 'tasks', name: string): string {
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
      labels: { ...job.labels, [LOCATION_LABEL]: job.region, [LAST_UPDATED_LABEL]: job.updatedAt.toISOString() },
      annotations: { [LAUNCH_STAGE_ANNOTATION]: 'GA', ...job.annotations, [CREATOR_ANNOTATION]: job.creator, [LAST_MODIFIER_ANNOTATION]: job.lastModifier }
    },
    spec: {
      template: {
        metadata: templateMetadata(job.templateLabels, job.templateAnnotations),
        spec: { ...withoutZeros({ taskCount: job.taskCount, parallelism: job.parallelism }), template: { spec: taskSpecOf(job) } }
      }
    },
    status: {
      observedGeneration: job.generation,
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: job.updatedAt.toISOString() }],
      ...withoutZeros({ executionCount: executions.count })
    }
  }
  if (executions.latest) resource.status.latestCreatedExecution = executions.latest
  return resource
}

/** All jobs, by project then name. */
export class JobStore {
  readonly #jobs = new Map<string, JobRecord>()

  readonly #projects: Projects

  constructor (projects: Projects) {
    this.#projects = projects
  }

  #key (project: string, name: string): string {
    return `${project}/${name}`
  }

  /** Adds or replaces a job given in code (no API rules apply). */
  put (job: JobRecord): void {
    this.#projects.numberOf(job.project)
    this.#jobs.set(this.#key(job.project, job.name), job)
  }

  get (project: string, name: string): JobRecord | undefined {
    return this.#jobs.get(this.#key(project, name))
  }

  /** The job, or Cloud Run's 404. */
  require (project: string, name: string, region: string): JobRecord {
    const job = this.get(project, name)
    if (!job) throw resourceNotFound(name, 'JOB', region, project)
    return job
  }

  list (project: string): JobRecord[] {
    return [...this.#jobs.values()].filter(job => job.project === project).sort((a, b) => a.name.localeCompare(b.name))
  }

  create (job: JobRecord): JobRecord {
    if (this.get(job.project, job.name)) throw new GoogleError('ALREADY_EXISTS', `Resource '${job.name}' already exists.`)
    this.put(job)
    return job
  }

  /** Replaces the whole job (PUT), keeping its identity and creator; each replace is a new generation. */
  replace (existing: JobRecord, update: JobRecord): JobRecord {
    const replaced: JobRecord = {
      ...update,
      uid: existing.uid,
      createdAt: existing.createdAt,
      creator: existing.creator,
      generation: existing.generation + 1
    }
    this.put(replaced)
    return replaced
  }

  delete (job: JobRecord): void {
    this.#jobs.delete(this.#key(job.project, job.name))
  }
}
