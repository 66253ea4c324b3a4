import t from 'tap'
import { Agent, request } from 'undici'
import { localStack, startRun, type LocalStack } from './helpers.js'

let stack: LocalStack
t.before(async () => { stack = await localStack(t, { JOBGATE_MAX_WAITS: '1000' }) })

const openSockets = async (): Promise<number> => await new Promise<number>((resolve, reject) => {
  stack.app.server.getConnections((err, count) => { if (err !== null) reject(err); else resolve(count) })
})

t.test('1,000 clients that connect and leave leave no watcher, tail, timer or socket behind', async t => {
  const run = await startRun(stack, 60_000)
  t.teardown(async () => { await fetch(`${stack.url}/v1/jobs/echo/runs/${run}/cancel`, { method: 'POST' }) })
  const { live } = stack.services
  const socketsBefore = await openSockets()
  // The clients' own connection pool, closed at the end: whatever sockets remain then are the server's.
  const clients = new Agent({ connections: 10 })
  let connectedOnce = 0
  for (let batch = 0; batch < 100; batch++) {
    await Promise.all(Array.from({ length: 10 }, async () => {
      const leave = new AbortController()
      const response = await request(`${stack.url}/v1/jobs/echo/runs/${run}/events`, { signal: leave.signal, dispatcher: clients })
      for await (const chunk of response.body) {
        if (String(chunk).startsWith('event: run')) connectedOnce++
        break
      }
      leave.abort()
    }))
  }
  await clients.close()
  t.equal(connectedOnce, 1000, 'each got its first run event')
  // The server hears of each hang-up asynchronously: wait until it has (counts, whatever the time).
  const busy = (): boolean => live.streams.size > 0 || live.runs.size > 0 || live.logs.size > 0
  for (let i = 0; i < 3000 && busy(); i++) await new Promise(resolve => setTimeout(resolve, 10))
  t.equal(live.streams.size, 0, 'no stream')
  t.equal(live.runs.size, 0, 'no run watcher')
  t.equal(live.logs.size, 0, 'no log tail')
  t.equal(live.runs.timers + live.logs.timers, 0, 'no timer')
  for (let i = 0; i < 3000 && await openSockets() > socketsBefore; i++) await new Promise(resolve => setTimeout(resolve, 10))
  t.ok(await openSockets() <= socketsBefore, 'no socket')
})
