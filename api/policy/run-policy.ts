import type { Principal } from '../auth/index.js'
import type { JobEntry } from '../catalog.js'
import { invalidArgument, permissionDenied } from '../errors.js'
import type { RunRequest } from '../schemas/run.js'
import { isProtectedEnvName } from './protected-env.js'
import { refuseSecretOverride } from './secret-env.js'

/** Who is asking, as far as policy cares: the authenticated Principal without how it was proven. */
export type Caller = Pick<Principal, 'name' | 'tenant' | 'tenantFree'>

function allowedByList (name: string, allow: readonly string[]): boolean {
  return allow.some(pattern => pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern)
}

/** A name that differs from the tenant key only in letter case: case-insensitive readers (pydantic-settings, Windows) would take it as the tenant. */
const shadowsTenantKey = (name: string, tenantKey: string | undefined): boolean =>
  tenantKey !== undefined && name !== tenantKey && name.toUpperCase() === tenantKey.toUpperCase()

/** The request's shape (names, sizes, NUL) is checked before: api/runs/request-check.ts. */
function checkEnv (entry: JobEntry, env: Record<string, string>): void {
  for (const name of Object.keys(env)) {
    if (shadowsTenantKey(name, entry.env.tenantKey)) {
      throw permissionDenied(`env.${name}: a letter-case variant of job "${entry.id}"'s tenant key ${String(entry.env.tenantKey)}, which only jobgate sets`)
    }
    if (isProtectedEnvName(name)) throw invalidArgument(`env.${name}: protected; it cannot be overridden`)
    refuseSecretOverride(entry, name)
    const allow = entry.env.allow
    if (allow !== undefined && name !== entry.env.tenantKey && !allowedByList(name, allow)) {
      throw invalidArgument(`env.${name}: not allowed for job "${entry.id}" (allowed: ${allow.join(', ') || 'none'})`)
    }
  }
}

function checkArgs (entry: JobEntry, request: RunRequest): void {
  const args = request.args ?? []
  if (request.clearArgs === true && args.length > 0) throw invalidArgument('clearArgs: cannot be combined with non-empty args')
  if ((args.length > 0 || request.clearArgs === true) && !entry.args.allow) throw invalidArgument(`args: job "${entry.id}" does not accept args`)
  if (args.length > entry.args.maxItems) throw invalidArgument(`args: ${args.length} items; job "${entry.id}" accepts at most ${entry.args.maxItems}`)
}

function checkLimits (entry: JobEntry, request: RunRequest): void {
  if (request.taskCount !== undefined && request.taskCount > entry.maxTaskCount) {
    throw invalidArgument(`taskCount: ${request.taskCount} exceeds job "${entry.id}"'s limit of ${entry.maxTaskCount}`)
  }
  if (request.timeoutSeconds !== undefined && request.timeoutSeconds > entry.maxTimeoutSeconds) {
    throw invalidArgument(`timeoutSeconds: ${request.timeoutSeconds} exceeds job "${entry.id}"'s limit of ${entry.maxTimeoutSeconds}`)
  }
}

/** The tenant variable is the server's to set: a bound caller always runs as its own tenant. */
function scopeToTenant (entry: JobEntry, env: Record<string, string>, caller: Caller): Record<string, string> {
  const key = entry.env.tenantKey
  if (key === undefined) return env
  const requested = Object.hasOwn(env, key) ? env[key] : undefined
  if (caller.tenant !== undefined) {
    if (requested !== undefined && requested !== caller.tenant) {
      throw permissionDenied(`env.${key}: ${caller.name} may only run job "${entry.id}" for its own tenant`)
    }
    return { ...env, [key]: caller.tenant }
  }
  if (caller.tenantFree !== true) throw permissionDenied(`job "${entry.id}" is tenant-scoped and ${caller.name} is bound to no tenant`)
  if (requested === undefined || requested === '') throw invalidArgument(`env.${key}: required, job "${entry.id}" is tenant-scoped`)
  return env
}

/** Checks a well-formed run request (api/runs/request-check.ts) against the job's policy; returns the request to send, tenant applied. */
export function applyRunPolicy (entry: JobEntry, request: RunRequest, caller: Caller): RunRequest {
  const env = request.env ?? {}
  checkEnv(entry, env)
  checkArgs(entry, request)
  checkLimits(entry, request)
  const scopedEnv = scopeToTenant(entry, env, caller)
  const result: RunRequest = { ...request }
  if (Object.keys(scopedEnv).length > 0) result.env = scopedEnv
  return result
}
