import { Type, type Static } from 'typebox'

export const JobSummary = Type.Object({
  id: Type.String(),
  description: Type.Optional(Type.String()),
  project: Type.String(),
  region: Type.String(),
  job: Type.String({ description: 'the Cloud Run job name' }),
  limits: Type.Object({
    maxTaskCount: Type.Integer(),
    maxTimeoutSeconds: Type.Integer(),
    args: Type.Object({ allow: Type.Boolean(), maxItems: Type.Integer() }),
    env: Type.Object({
      allow: Type.Optional(Type.Array(Type.String())),
      tenantKey: Type.Optional(Type.String()),
      refuseSecretNames: Type.Optional(Type.Boolean())
    })
  })
})
export type JobSummary = Static<typeof JobSummary>

export const JobList = Type.Object({ jobs: Type.Array(JobSummary) })
export type JobList = Static<typeof JobList>
