import { Type } from 'typebox'

/** Cloud Run resource names (jobs, executions): RFC 1035 labels, so an id can never change the upstream URL's shape. */
export const RESOURCE_NAME_PATTERN = '^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$'
export const ResourceName = Type.String({ pattern: RESOURCE_NAME_PATTERN, maxLength: 63 })

/**
 * POSIX-style environment variable names, at most 255 characters (in the pattern: a record key's maxLength
 * is not checked), but never `__proto__` or `constructor`, which would reach an object's prototype.
 */
export const ENV_NAME_PATTERN = '^(?!(?:__proto__|constructor)$)[A-Za-z_][A-Za-z0-9_]{0,254}$'
export const EnvName = Type.String({ pattern: ENV_NAME_PATTERN, maxLength: 255 })

export const isResourceName = (value: string): boolean => new RegExp(RESOURCE_NAME_PATTERN).test(value)
