/**
 * The floor for the throughput figures: the least a server can do for a run request, run as its own
 * process like jobgate. Fastify without logging, `/healthz`, and `POST /v1/jobs/:job/runs` making the
 * same `:run` call through an undici pool of 32 sockets and answering 202; no auth, policy, audit line,
 * validation, idempotency or error mapping. `UPSTREAM` is the stand-in's host, `PORT` the port.
 */
import Fastify from 'fastify'
import { Pool } from 'undici'

const pool = new Pool(`http://${process.env.UPSTREAM ?? ''}`, { connections: 32 })
const app = Fastify({ logger: false })
app.get('/healthz', async () => ({ status: 'ok' }))
app.post<{ Params: { job: string }, Body: { args?: string[] } }>('/v1/jobs/:job/runs', async (request, reply) => {
  const response = await pool.request({
    method: 'POST',
    path: `/apis/run.googleapis.com/v1/namespaces/bench/jobs/${request.params.job}:run`,
    headers: { 'content-type': 'application/json', authorization: 'Bearer floor' },
    body: JSON.stringify({ overrides: { containerOverrides: [{ args: request.body.args ?? [] }] } })
  })
  const execution = await response.body.json() as { metadata: { name: string } }
  return await reply.code(202).send({ name: execution.metadata.name, state: 'PENDING' })
})
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' })
