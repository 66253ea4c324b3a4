import type { FastifyReply } from 'fastify'
import { ConcurrencyConflict } from '../concurrency/conflict.js'
import { sendStarted } from '../routes/started.js'
import type { RunStarter, StartRunInput } from '../runs/starter.js'
import { forRedelivery, PUSH_SUCCESS } from './redelivery.js'

/** Push answer for a start the job's concurrency policy refused with onConflict "drop": acknowledged, no run. */
export const PUSH_DROPPED = 204

/**
 * Starts a pushed run (Pub/Sub, Cloud Tasks) and answers as a push sender needs: 200 when started
 * now or before, 204 when the concurrency policy drops it, otherwise the failure shaped for redelivery.
 */
export async function startAndAnswer (
  reply: FastifyReply,
  starter: RunStarter,
  input: StartRunInput,
  delivery: string
): Promise<FastifyReply> {
  try {
    return await sendStarted(reply, await starter.start(input), PUSH_SUCCESS)
  } catch (err) {
    if (err instanceof ConcurrencyConflict && err.onConflict === 'drop') {
      input.log.info(
        { dropped: true, runningRuns: err.runningRuns },
        `${delivery}: acknowledged without a run (concurrency onConflict "drop"): ${err.message}`
      )
      return await reply.code(PUSH_DROPPED).send(null)
    }
    throw forRedelivery(err, input.log, delivery)
  }
}
