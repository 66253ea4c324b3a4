import t from 'tap'
import { httpBehaviourTests } from './http-behaviour.js'
import { jsonBodyTests } from './json-body.js'
import { rateLimitTests } from './rate-limit.js'
import { startStack } from './stack.js'

// JOBGATE_RATE_LIMIT unset: jobgate's default of 60 runs per minute per principal.
const stack = await startStack(t, { rateLimit: null })
jsonBodyTests(t)
httpBehaviourTests(t, stack)
rateLimitTests(t, stack)
