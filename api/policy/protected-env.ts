/**
 * Names a caller may never set: they steer the runtime (CLOUD_RUN_*, K_*, PORT), its credentials
 * (GOOGLE_*) or what code the process loads (NODE_OPTIONS, LD_*, PATH). Matched case-insensitively,
 * so `ld_preload` is as protected as `LD_PRELOAD`.
 */
const PROTECTED = [/^CLOUD_RUN_/i, /^K_/i, /^PORT$/i, /^GOOGLE_/i, /^NODE_OPTIONS$/i, /^LD_/i, /^PATH$/i]

export const isProtectedEnvName = (name: string): boolean => PROTECTED.some(pattern => pattern.test(name))
