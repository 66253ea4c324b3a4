import type { JobEntry } from '../catalog.js'
import { runNotFoundMessage } from '../cloudrun/errors.js'
import type { Execution } from '../cloudrun/execution.js'
import { notFound } from '../errors.js'
import type { Caller } from './run-policy.js'

/**
 * Run-level tenant scope: a run of a tenant-scoped job belongs, for its whole life, to the tenant
 * jobgate set on it. No store is needed: the execution's spec carries the container env the run
 * was started with, and jobgate always sets the job's `env.tenantKey` there (run-policy.ts).
 */

/** The tenant a run was started for: the tenant key's value in the env of the container jobgate overrides. */
export function runTenant (entry: JobEntry, execution: Execution): string | undefined {
  const key = entry.env.tenantKey
  if (key === undefined) return undefined
  const containers = execution.spec?.template?.spec?.containers ?? []
  // An override without a container name applies to the job's (first) container.
  const container = entry.container === undefined ? containers[0] : containers.find(c => c.name === entry.container)
  return container?.env?.find(variable => variable.name === key)?.value
}

/** Whether the caller may see a run of `entry` that belongs to `tenant` (undefined: to none). */
export function maySeeTenant (entry: JobEntry, caller: Caller, tenant: string | undefined): boolean {
  if (entry.env.tenantKey === undefined || caller.tenantFree === true) return true
  return caller.tenant !== undefined && tenant === caller.tenant
}

/** Whether the caller may see this run: read, wait on, list, cancel, read its logs, stream it. */
export function maySeeRun (entry: JobEntry, caller: Caller, execution: Execution): boolean {
  return maySeeTenant(entry, caller, runTenant(entry, execution))
}

/** The execution when the caller may see it; otherwise exactly the 404 of a run that does not exist. */
export function visibleRun (entry: JobEntry, caller: Caller, execution: Execution, name: string): Execution {
  if (!maySeeRun(entry, caller, execution)) throw notFound(runNotFoundMessage(entry, name))
  return execution
}
