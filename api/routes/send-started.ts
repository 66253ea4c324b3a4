import type { FastifyReply } from 'fastify'
import { REPLAYED_HEADER } from '../idempotency/index.js'
import type { StartedRun } from '../runs/starter.js'

/** The response of a run start, first or replayed: the stored status (or `statusCode`), headers (Location) and Run. */
export async function sendStarted (reply: FastifyReply, started: StartedRun, statusCode = started.statusCode): Promise<FastifyReply> {
  void reply.code(statusCode).headers(started.headers)
  if (started.replayed) void reply.header(REPLAYED_HEADER, 'true')
  return await reply.send(started.run)
}
