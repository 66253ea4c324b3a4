import type { RunState } from '../api/schemas/run.js'

/** A run in one of these states changes no more: waiting, polling and following stop there. */
export const isTerminal = (state: RunState): boolean => state === 'SUCCEEDED' || state === 'FAILED' || state === 'CANCELLED'
