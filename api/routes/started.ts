import type { FastifyReply } from 'fastify'
import { REPLAYED_HEADER } from '../idempotency/index.js'
import type { StartedRun } from '../runs/starter.js'

/** Answers a run start, first or replayed: `statusCode` (202 for REST, 200 for push senders), Location, the Run. */
export async function sendStarted (reply: FastifyReply, { run, replayed }: StartedRun, statusCode: number): Promise<FastifyReply> {
  void reply.code(statusCode).header('location', run.links.self)
  if (replayed) void reply.header(REPLAYED_HEADER, 'true')
  return await reply.send(run)
}
