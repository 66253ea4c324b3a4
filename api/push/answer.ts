import type { FastifyReply } from 'fastify'
import { sendStarted } from '../routes/started.js'
import type { RunStarter, StartRunInput } from '../runs/starter.js'
import { forRedelivery, PUSH_SUCCESS } from './redelivery.js'

/**
 * Starts a pushed run (Pub/Sub, Cloud Tasks) and answers as a push sender needs: 200 when started
 * now or before, otherwise the failure shaped for redelivery.
 */
export async function startAndAnswer (reply: FastifyReply, starter: RunStarter, input: StartRunInput, delivery: string): Promise<FastifyReply> {
  try {
    return await sendStarted(reply, await starter.start(input), PUSH_SUCCESS)
  } catch (err) {
    throw forRedelivery(err, input.log, delivery)
  }
}
