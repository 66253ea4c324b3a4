import { Type, type Static } from 'typebox'

export const Me = Type.Object({
  name: Type.String({ description: 'the principal: an API key entry\'s `principal`, a Google identity\'s email, or `anonymous` without authentication' }),
  tenant: Type.Optional(Type.String({ description: 'the tenant the caller is bound to (API key entries only)' })),
  tenantFree: Type.Boolean({ description: 'may name the tenant of a tenant-scoped job itself' })
}, { $id: 'Me' })
export type Me = Static<typeof Me>
