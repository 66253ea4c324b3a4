/** One run request check for every trigger: the same bad request gets the same answer from REST, Cloud Tasks and Pub/Sub push. */
import t from 'tap'
import { build } from '../helper.js'

// Pub/Sub can only bring values (names come from the catalog): each job maps the message's data.value into one place.
const { app, fake } = await build(t, {
  jobs: {
    'env-job': { pubsub: { env: { VALUE: '{data.value}' } } },
    'args-job': { pubsub: { args: ['{data.value}'] } }
  }
})

type Route = 'rest' | 'tasks' | 'pubsub'
interface Answer { code: unknown, status: unknown, message: unknown }
let delivery = 0

/** Sends the run request `{ env: { VALUE: value } }` (env-job) or `{ args: [value] }` (args-job) the way `route` takes one. */
async function send (route: Route, job: 'env-job' | 'args-job', value: string): Promise<[number, Answer | undefined]> {
  const id = String(++delivery)
  const request = job === 'env-job' ? { env: { VALUE: value } } : { args: [value] }
  const options = route === 'rest'
    ? { url: `/v1/jobs/${job}/runs`, payload: request, headers: {} }
    : route === 'tasks'
      ? { url: `/v1/push/tasks/${job}`, payload: request, headers: { 'x-cloudtasks-queuename': 'q', 'x-cloudtasks-taskname': `task-${id}` } }
      : {
          url: `/v1/push/pubsub/${job}`,
          payload: {
            message: { data: Buffer.from(JSON.stringify({ value })).toString('base64'), messageId: id, publishTime: '2026-11-23T10:00:00Z' },
            subscription: 'projects/p/subscriptions/runs'
          },
          headers: {}
        }
  const response = await app.inject({ method: 'POST', ...options })
  const { error } = response.json<{ error?: Answer }>()
  return [response.statusCode, error === undefined ? undefined : { code: error.code, status: error.status, message: error.message }]
}

const cases: Array<[string, 'env-job' | 'args-job', string, string]> = [
  ['a NUL in an env value', 'env-job', 'a\u0000b', 'env.VALUE: contains a NUL character'],
  ['an env value of 11,000 three-byte characters (33,000 bytes)', 'env-job', '€'.repeat(11_000), 'env.VALUE: value is larger than 32 KiB'],
  ['an env value of 32,769 ASCII characters', 'env-job', 'v'.repeat(32 * 1024 + 1), 'env.VALUE: value is larger than 32 KiB'],
  ['a NUL in an arg', 'args-job', '\u0000', 'args[0]: contains a NUL character'],
  ['an arg of 2,000 three-byte characters (6,000 bytes)', 'args-job', '€'.repeat(2000), 'args[0]: larger than 4 KiB'],
  ['an arg of 4,097 ASCII characters', 'args-job', 'x'.repeat(4097), 'args[0]: larger than 4 KiB']
]

for (const [what, job, value, message] of cases) {
  t.test(`${what}: 400 "${message}" from REST, Cloud Tasks and Pub/Sub alike`, async t => {
    for (const route of ['rest', 'tasks', 'pubsub'] as const) {
      const [httpCode, answer] = await send(route, job, value)
      t.equal(httpCode, 400, `${route}: HTTP 400`)
      t.same(answer, { code: 400, status: 'INVALID_ARGUMENT', message }, route)
    }
  })
}

t.test('a value within the bounds starts a run through each route, so the refusals above could only come from the check', async t => {
  const before = fake.calls.length
  for (const route of ['rest', 'tasks', 'pubsub'] as const) {
    const [httpCode] = await send(route, 'env-job', '€'.repeat(10_000))
    t.ok(httpCode === 200 || httpCode === 202, `${route}: started (${httpCode})`)
  }
  t.equal(fake.calls.length - before, 3, 'three runs started upstream')
})

t.test('nothing refused reached Cloud Run', async t => {
  t.equal(fake.calls.filter(call => JSON.stringify(call.argument).includes('\\u0000')).length, 0)
  t.equal(fake.calls.length, 3, 'only the three runs of the test above')
})
