import type { FastifyBaseLogger } from 'fastify'
import type { JobEntry } from '../catalog.js'
import type { CloudRunClient } from '../cloudrun/client.js'
import { toRun, toRunJobRequest } from '../cloudrun/mapping.js'
import { applyRunPolicy, type Caller } from '../policy/run-policy.js'
import type { Run, RunRequest } from '../schemas/run.js'
import { auditRunAttempt, type Trigger } from './audit.js'
import { DEFAULT_MAX_INFLIGHT_RUNS, InflightLimit } from './inflight.js'

export interface StartRunInput {
  entry: JobEntry
  request: RunRequest
  caller: Caller
  log: FastifyBaseLogger
  trigger?: Trigger
  idempotencyKey?: string
}

/** The one path every trigger (REST, Pub/Sub push, Cloud Tasks) takes to start a run. */
export class RunStarter {
  readonly #cloudRun: CloudRunClient
  readonly #limit: InflightLimit

  constructor (cloudRun: CloudRunClient, maxInflightRuns = DEFAULT_MAX_INFLIGHT_RUNS) {
    this.#cloudRun = cloudRun
    this.#limit = new InflightLimit(maxInflightRuns)
  }

  async start (input: StartRunInput): Promise<Run> {
    const { entry, caller } = input
    const audit = { entry, caller: caller.name, request: input.request, trigger: input.trigger ?? 'api', ...(input.idempotencyKey !== undefined && { idempotencyKey: input.idempotencyKey }) }
    try {
      const allowed = applyRunPolicy(entry, input.request, caller)
      audit.request = allowed
      const run = await this.#limit.run(async () => toRun(entry.id, await this.#cloudRun.runJob(entry, toRunJobRequest(entry, allowed))))
      auditRunAttempt(input.log, { ...audit, execution: run.name })
      return run
    } catch (error) {
      auditRunAttempt(input.log, { ...audit, error })
      throw error
    }
  }
}
