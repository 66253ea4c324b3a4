import type { FastifyBaseLogger } from 'fastify'
import type { JobEntry } from '../catalog.js'
import type { CloudRunClient } from '../cloudrun/client.js'
import { toRun, toRunJobRequest } from '../cloudrun/mapping.js'
import { applyRunPolicy, type Caller } from '../policy/run-policy.js'
import type { Run, RunRequest } from '../schemas/run.js'

export interface StartRunInput {
  entry: JobEntry
  request: RunRequest
  caller: Caller
  log: FastifyBaseLogger
}

/** The one path every trigger (REST, Pub/Sub push, Cloud Tasks) takes to start a run. */
export class RunStarter {
  readonly #cloudRun: CloudRunClient

  constructor (cloudRun: CloudRunClient) {
    this.#cloudRun = cloudRun
  }

  async start ({ entry, request, caller }: StartRunInput): Promise<Run> {
    const allowed = applyRunPolicy(entry, request, caller)
    const execution = await this.#cloudRun.runJob(entry, toRunJobRequest(entry, allowed))
    return toRun(entry.id, execution)
  }
}
