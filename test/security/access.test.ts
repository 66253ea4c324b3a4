import t from 'tap'
import { auditTests } from './audit.js'
import { authenticationTests } from './auth.js'
import { startStack } from './stack.js'
import { tenantTests } from './tenant.js'

// Who may do what, through the routes, with the emulator as Cloud Run: one stack, in this order.
const stack = await startStack(t)
authenticationTests(t, stack)
tenantTests(t, stack)
auditTests(t, stack)
