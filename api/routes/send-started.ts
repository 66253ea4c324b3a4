import type { FastifyReply } from 'fastify'
import { REPLAYED_HEADER } from '../idempotency/index.js'
import { forRedelivery, PUSH_SUCCESS } from '../events/redelivery.js'
import type { RunStarter, StartedRun, StartRunInput } from '../runs/starter.js'

/** The response of a run start, first or replayed: the stored status (or `statusCode`), headers (Location) and Run. */
export async function sendStarted (reply: FastifyReply, started: StartedRun, statusCode = started.statusCode): Promise<FastifyReply> {
  void reply.code(statusCode).headers(started.headers)
  if (started.replayed) void reply.header(REPLAYED_HEADER, 'true')
  return await reply.send(started.run)
}

/**
 * Starts a pushed run (Pub/Sub, Cloud Tasks) and answers as a push sender needs: 200 when started
 * now or before, otherwise the failure shaped for redelivery.
 */
export async function sendPushStarted (reply: FastifyReply, starter: RunStarter, input: StartRunInput, delivery: string): Promise<FastifyReply> {
  try {
    return await sendStarted(reply, await starter.start(input), PUSH_SUCCESS)
  } catch (err) {
    throw forRedelivery(err, input.log, delivery)
  }
}
