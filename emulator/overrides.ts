import { invalidArgument } from './errors.js'
import { checkEnvNames, checkRange, MAX_TASK_COUNT, MAX_TIMEOUT_SECONDS, parseEnvList, type JobRecord } from './jobs.js'
import type { V1EnvVar } from './resources.js'
import { asRecord, optionalBoolean, optionalInteger, optionalString, optionalStringArray, rejectUnknownFields } from './wire.js'

export interface ContainerOverride {
  name?: string
  args?: string[]
  env: V1EnvVar[]
  clearArgs: boolean
}

/** `RunJobRequest.overrides`, validated. */
export interface Overrides {
  containerOverrides: ContainerOverride[]
  taskCount?: number
  timeoutSeconds?: number
  delayExecution?: boolean
}

/** What an execution runs: the job's template with the run's overrides applied. */
export type ExecutionTemplate = Pick<JobRecord, 'templateLabels' | 'templateAnnotations' | 'containerName' | 'containerExtras' | 'taskSpecExtras' | 'image' | 'command' | 'args' | 'env' | 'taskCount' | 'parallelism' | 'maxRetries' | 'timeoutSeconds' | 'serviceAccountName'>

/**
 * Parses a `RunJobRequest` body strictly (unknown fields are a 400, as on Google's front end).
 * Returns undefined when the request carries no overrides, i.e. `overrides` is absent or has no field set:
 * only then is `run.jobs.runWithOverrides` not needed.
 */
export function parseRunJobRequest (body: unknown): Overrides | undefined {
  if (body === undefined) return undefined
  const request = asRecord(body, 'run_job_request')
  rejectUnknownFields(request, ['overrides'], '(root)')
  if (request.overrides === undefined || request.overrides === null) return undefined
  const raw = asRecord(request.overrides, 'overrides')
  rejectUnknownFields(raw, ['containerOverrides', 'taskCount', 'timeoutSeconds', 'delayExecution'], 'overrides')
  if (Object.values(raw).every(value => value === undefined || value === null)) return undefined
  const overrides: Overrides = { containerOverrides: parseContainerOverrides(raw.containerOverrides) }
  const taskCount = optionalInteger(raw.taskCount, 'overrides.task_count')
  if (taskCount !== undefined) overrides.taskCount = checkRange('overrides.task_count', taskCount, 1, MAX_TASK_COUNT)
  const timeoutSeconds = optionalInteger(raw.timeoutSeconds, 'overrides.timeout_seconds')
  if (timeoutSeconds !== undefined) overrides.timeoutSeconds = checkRange('overrides.timeout_seconds', timeoutSeconds, 1, MAX_TIMEOUT_SECONDS)
  const delayExecution = optionalBoolean(raw.delayExecution, 'overrides.delay_execution')
  if (delayExecution !== undefined) overrides.delayExecution = delayExecution
  return overrides
}

function parseContainerOverrides (raw: unknown): ContainerOverride[] {
  if (raw === undefined || raw === null) return []
  if (!Array.isArray(raw)) throw invalidArgument('Invalid value at \'overrides.container_overrides\': expected a list.')
  return raw.map((item, i) => {
    const at = `overrides.container_overrides[${i}]`
    const entry = asRecord(item, at)
    rejectUnknownFields(entry, ['name', 'args', 'env', 'clearArgs'], at)
    const override: ContainerOverride = {
      env: parseEnvList(`${at}.env`, entry.env),
      clearArgs: optionalBoolean(entry.clearArgs, `${at}.clear_args`) ?? false
    }
    const name = optionalString(entry.name, `${at}.name`)
    if (name) override.name = name
    const args = optionalStringArray(entry.args, `${at}.args`)
    if (args !== undefined) override.args = args
    if (override.clearArgs && (override.args?.length ?? 0) > 0) throw invalidArgument(`${at}.args: must be empty when clear_args is set to true.`)
    checkEnvNames(override.env)
    return override
  })
}

/** `env` with `changes` merged in: a changed name keeps its place, a new one is appended. */
export function mergeEnv (env: V1EnvVar[], changes: V1EnvVar[]): V1EnvVar[] {
  const merged = env.map(entry => ({ ...entry }))
  for (const change of changes) {
    const existing = merged.filter(entry => entry.name === change.name)
    if (existing.length === 0) merged.push({ ...change })
    for (const entry of existing) entry.value = change.value
  }
  return merged
}

/** The job's template with `overrides` applied: env merged, args replaced or cleared, counts replaced. */
export function applyOverrides (job: JobRecord, overrides: Overrides | undefined): ExecutionTemplate {
  const template: ExecutionTemplate = {
    templateLabels: job.templateLabels,
    templateAnnotations: job.templateAnnotations,
    containerName: job.containerName,
    containerExtras: job.containerExtras,
    taskSpecExtras: job.taskSpecExtras,
    image: job.image,
    command: job.command,
    args: job.args,
    env: job.env,
    taskCount: overrides?.taskCount ?? job.taskCount,
    parallelism: job.parallelism,
    maxRetries: job.maxRetries,
    timeoutSeconds: overrides?.timeoutSeconds ?? job.timeoutSeconds,
    serviceAccountName: job.serviceAccountName
  }
  const seen = new Set<string>()
  for (const [i, override] of (overrides?.containerOverrides ?? []).entries()) {
    const target = override.name ?? job.containerName
    const at = `overrides.container_overrides[${i}].name`
    if (target !== job.containerName) throw invalidArgument(`${at}: container override '${target}' does not match any container of job '${job.name}' (its container is '${job.containerName}').`)
    if (seen.has(target)) throw invalidArgument(`${at}: container '${target}' is overridden more than once.`)
    seen.add(target)
    if (override.clearArgs) template.args = []
    else if (override.args !== undefined && override.args.length > 0) template.args = override.args
    template.env = mergeEnv(template.env, override.env)
  }
  return template
}
