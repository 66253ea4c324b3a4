import type { Caller } from './run-policy.js'

/**
 * Who a budget or an idempotency namespace belongs to: the principal AND its tenant, so two key
 * entries that share a principal name but are bound to different tenants never share either.
 * JSON keeps the two parts unambiguous whatever characters they hold.
 */
export const callerKey = (caller: Pick<Caller, 'name' | 'tenant'>): string => JSON.stringify([caller.name, caller.tenant ?? null])
