import t, { type Test } from 'tap'
import type { V1Execution, V1Job } from '../../emulator/index.js'
import { ExecutionRun } from '../../emulator/executions.js'
import { client, fetchToken, isDone, overrides, pollExecution, runPath, startTestEmulator } from './helpers.js'

const project = 'acme-prod'

async function setup (t: Test, tokenLifetimeSeconds?: number) {
  const emulator = await startTestEmulator(t, { projectNumber: '555', tokenLifetimeSeconds, jobs: [{ project, name: 'echo-job', maxRetries: 0 }] })
  const token = await fetchToken(emulator)
  return { emulator, token, api: client(emulator, token) }
}

t.test('401 UNAUTHENTICATED without a token, with an unknown one, and with an expired one', async t => {
  const { emulator, token } = await setup(t)
  for (const [why, api] of [['no token', client(emulator, null)], ['unknown token', client(emulator, 'ya29.not-from-here')]] as const) {
    const reply = await api('GET', runPath(project, 'jobs/echo-job'))
    t.match(reply, { status: 401, body: { error: { code: 401, status: 'UNAUTHENTICATED', message: /invalid authentication credentials/ } } }, why)
    t.equal(reply.headers.get('www-authenticate'), 'Bearer realm="https://accounts.google.com/"')
    t.equal((await api('POST', '/v2/entries:list', { resourceNames: [`projects/${project}`] })).status, 401, `${why}: logging too`)
  }
  t.equal((await client(emulator, token)('GET', runPath(project, 'jobs/echo-job'))).status, 200)
  emulator.expireTokens()
  t.equal((await client(emulator, token)('GET', runPath(project, 'jobs/echo-job'))).status, 401, 'expired by expireTokens()')
  t.equal(emulator.executions().length, 0, 'nothing ran')
})

t.test('tokens expire after tokenLifetimeSeconds', async t => {
  const { api, emulator } = await setup(t, 1)
  const reply = await fetch(`${emulator.url}/computeMetadata/v1/instance/service-accounts/default/token`, { headers: { 'Metadata-Flavor': 'Google' } })
  t.match(await reply.json(), { expires_in: 1, token_type: 'Bearer' })
  t.equal((await api('GET', runPath(project, 'jobs'))).status, 200)
  await new Promise(resolve => setTimeout(resolve, 1100))
  t.equal((await api('GET', runPath(project, 'jobs'))).status, 401)
})

t.test('403 PERMISSION_DENIED for a denied permission, named as Google names it', async t => {
  const { emulator, api } = await setup(t)
  emulator.denyPermission('run.jobs.runWithOverrides')
  const denied = await api('POST', runPath(project, 'jobs/echo-job:run'), overrides({ env: { TENANT_ID: 'acme' } }))
  t.match(denied, {
    status: 403,
    body: { error: { code: 403, status: 'PERMISSION_DENIED', message: 'Permission \'run.jobs.runWithOverrides\' denied on resource \'namespaces/acme-prod/jobs/echo-job\' (or resource may not exist).' } }
  })
  t.equal(emulator.executions().length, 0, 'a denied run starts nothing')
  t.equal((await api('POST', runPath(project, 'jobs/echo-job:run'), {})).status, 200, 'no overrides: no runWithOverrides needed')
  t.equal((await api('POST', runPath(project, 'jobs/echo-job:run'), { overrides: {} })).status, 200, 'empty overrides count as none')
  t.equal((await api('POST', runPath(project, 'jobs/echo-job:run'))).status, 200, 'nor does an empty body')
  emulator.allowPermission('run.jobs.runWithOverrides')
  t.equal((await api('POST', runPath(project, 'jobs/echo-job:run'), overrides({ args: ['x'] }))).status, 200, 'allowed again')

  const name = emulator.executions()[0]?.metadata.name as string
  for (const [permission, method, path, body] of [
    ['run.jobs.run', 'POST', runPath(project, 'jobs/echo-job:run'), {}],
    ['run.jobs.get', 'GET', runPath(project, 'jobs/echo-job'), undefined],
    ['run.jobs.list', 'GET', runPath(project, 'jobs'), undefined],
    ['run.executions.get', 'GET', runPath(project, `executions/${name}`), undefined],
    ['run.executions.list', 'GET', runPath(project, 'executions'), undefined],
    ['run.executions.cancel', 'POST', runPath(project, `executions/${name}:cancel`), {}],
    ['logging.logEntries.list', 'POST', '/v2/entries:list', { resourceNames: [`projects/${project}`] }]
  ] as const) {
    emulator.denyPermission(permission)
    const reply = await api<{ error: { message: string } }>(method, path, body)
    t.equal(reply.status, 403, permission)
    t.match(reply.body.error.message, `Permission '${permission}' denied`)
    emulator.allowPermission(permission)
  }
})

t.test('404 NOT_FOUND for unknown jobs, executions and routes', async t => {
  const { api } = await setup(t)
  t.match(await api('POST', runPath(project, 'jobs/nope:run'), {}), {
    status: 404, body: { error: { code: 404, status: 'NOT_FOUND', message: 'Resource \'nope\' of kind \'JOB\' in region \'us-central1\' in project \'acme-prod\' does not exist.' } }
  })
  t.match(await api('GET', runPath('other-project', 'jobs/echo-job')), { status: 404, body: { error: { message: /in project 'other-project'/ } } })
  t.match(await api('GET', runPath(project, 'executions/echo-job-zzzzz')), { status: 404, body: { error: { message: /'echo-job-zzzzz' of kind 'EXECUTION'/ } } })
  t.match(await api('POST', runPath(project, 'executions/echo-job-zzzzz:cancel'), {}), { status: 404 })
  t.match(await api('DELETE', runPath(project, 'executions/echo-job-zzzzz')), { status: 404 })
  t.match(await api('GET', runPath(project, 'services')), { status: 404, body: { error: { status: 'NOT_FOUND' } } })
  t.match(await api('PATCH', runPath(project, 'jobs/echo-job')), { status: 404 })
  t.match(await api('GET', '/v2/entries:list'), { status: 404 })
  t.match(await api('GET', '/elsewhere'), { status: 404 })
})

t.test('the project number works as namespace, and resources name it', async t => {
  const { api } = await setup(t)
  const run = await api<V1Execution>('POST', runPath('555', 'jobs/echo-job:run'), {})
  t.equal(run.status, 200)
  t.equal(run.body.metadata.namespace, '555')
  t.equal(run.body.metadata.selfLink, `/apis/run.googleapis.com/v1/namespaces/555/executions/${run.body.metadata.name}`)
  t.equal((await api('GET', runPath(project, `executions/${run.body.metadata.name}`))).status, 200)
})

t.test('bad RunJobRequests are 400 INVALID_ARGUMENT and start nothing', async t => {
  const { emulator, api } = await setup(t)
  const cases: Array<[string, unknown, RegExp]> = [
    ['unknown top-level field', { overides: {} }, /Unknown name "overides"/],
    ['unknown override field', { overrides: { taskcount: 2 } }, /Unknown name "taskcount" at 'overrides'/],
    ['unknown container override field', { overrides: { containerOverrides: [{ argz: [] }] } }, /Unknown name "argz"/],
    ['clearArgs with args', overrides({ args: ['a'], clearArgs: true }), /must be empty when clear_args/],
    ['taskCount 0', { overrides: { taskCount: 0 } }, /task_count: must be between 1 and 10000/],
    ['timeout too long', { overrides: { timeoutSeconds: 10_000_000 } }, /timeout_seconds/],
    ['fractional taskCount', { overrides: { taskCount: 1.5 } }, /expected an integer/],
    ['reserved env', overrides({ env: { CLOUD_RUN_TASK_INDEX: '9' } }), /reserved env names were provided: CLOUD_RUN_TASK_INDEX/],
    ['env without name', { overrides: { containerOverrides: [{ env: [{ value: 'x' }] }] } }, /env\[0\]\.name: Required/],
    ['env from a secret', { overrides: { containerOverrides: [{ env: [{ name: 'A', valueFrom: {} }] }] } }, /secrets are not supported/],
    ['wrong container name', { overrides: { containerOverrides: [{ name: 'sidecar', args: ['x'] }] } }, /overrides\.container_overrides\[0\]\.name: container override 'sidecar' does not match/],
    ['same container twice', { overrides: { containerOverrides: [{ args: ['a'] }, { name: 'job', args: ['b'] }] } }, /overridden more than once/],
    ['containerOverrides not a list', { overrides: { containerOverrides: {} } }, /expected a list/],
    ['args not strings', { overrides: { containerOverrides: [{ args: [1] }] } }, /expected a list of strings/],
    ['clearArgs not boolean', { overrides: { containerOverrides: [{ clearArgs: 'yes' }] } }, /expected a boolean/],
    ['body not an object', [], /expected an object/],
    ['not JSON', '{"overrides":', /Invalid JSON payload received/]
  ]
  for (const [why, body, message] of cases) {
    const reply = await api<{ error: { status: string, message: string } }>('POST', runPath(project, 'jobs/echo-job:run'), body)
    t.equal(reply.status, 400, why)
    t.equal(reply.body.error?.status, 'INVALID_ARGUMENT', why)
    t.match(reply.body.error?.message, message, why)
  }
  t.equal(emulator.executions().length, 0)
  const delayed = await api<V1Execution>('POST', runPath(project, 'jobs/echo-job:run'), { overrides: { delayExecution: false, containerOverrides: [{ name: 'job', args: [] }] } })
  t.equal(delayed.status, 200, 'delayExecution is accepted; empty args mean no change')
})

t.test('jobs: create, get, list with paging, replace, delete', async t => {
  const { emulator, api } = await setup(t)
  const body = (name: string, extra: Record<string, unknown> = {}) => ({
    apiVersion: 'run.googleapis.com/v1',
    kind: 'Job',
    metadata: { name, labels: { team: 'data', 'cloud.googleapis.com/location': 'asia-east1' } },
    spec: {
      template: {
        spec: {
          taskCount: 2,
          parallelism: 1,
          template: {
            spec: {
              containers: [{ name: 'main', image: 'us-docker.pkg.dev/p/r/img:1', args: ['a'], env: [{ name: 'MODE', value: 'batch' }] }],
              maxRetries: 1,
              timeoutSeconds: '120',
              ...extra
            }
          }
        }
      }
    }
  })
  const created = await api<V1Job>('POST', runPath(project, 'jobs'), body('nightly'))
  t.equal(created.status, 200, JSON.stringify(created.body))
  t.match(created.body, {
    apiVersion: 'run.googleapis.com/v1',
    kind: 'Job',
    metadata: { name: 'nightly', namespace: '555', generation: 1, labels: { team: 'data', 'cloud.googleapis.com/location': 'asia-east1' } },
    spec: { template: { spec: { taskCount: 2, parallelism: 1, template: { spec: { containers: [{ name: 'main', image: 'us-docker.pkg.dev/p/r/img:1', args: ['a'], env: [{ name: 'MODE', value: 'batch' }] }], maxRetries: 1, timeoutSeconds: '120' } } } } },
    status: { conditions: [{ type: 'Ready', status: 'True' }] }
  })
  t.notOk(created.body.status.executionCount, 'no executions yet')
  t.match(await api('POST', runPath(project, 'jobs'), body('nightly')), { status: 409, body: { error: { status: 'ALREADY_EXISTS' } } })
  for (const [why, bad, message] of [
    ['no name', { metadata: {} }, /metadata\.name: Required/],
    ['bad name', { metadata: { name: 'Bad_Name' } }, /lowercase alphanumeric/],
    ['no container', { metadata: { name: 'x' } }, /exactly one container/],
    ['no image', { metadata: { name: 'x' }, spec: { template: { spec: { template: { spec: { containers: [{}] } } } } } }, /image: Required/],
    ['label not a string', { metadata: { name: 'x', labels: { a: 1 } } }, /Invalid value at 'job\.metadata\.labels\["a"\]' \(TYPE_STRING\), 1/],
    ['too many retries', body('x', { maxRetries: 11 }), /maxRetries: must be between 0 and 10/]
  ] as const) {
    t.match(await api('POST', runPath(project, 'jobs'), bad), { status: 400, body: { error: { message } } }, why)
  }
  t.match(await api('POST', runPath(project, 'jobs'), body('with-default-command', { containers: [{ image: 'i', command: [] }] })), { status: 200 })

  const first = await api<{ items: V1Job[], metadata: { continue?: string } }>('GET', runPath(project, 'jobs?limit=2'))
  t.same(first.body.items.map(job => job.metadata.name), ['echo-job', 'nightly'])
  t.ok(first.body.metadata.continue)
  const second = await api<{ items: V1Job[], metadata: { continue?: string } }>('GET', runPath(project, `jobs?limit=2&continue=${first.body.metadata.continue}`))
  t.same(second.body.items.map(job => job.metadata.name), ['with-default-command'])
  t.notOk(second.body.metadata.continue)
  const selected = await api<{ items: V1Job[] }>('GET', runPath(project, 'jobs?labelSelector=team%3Ddata'))
  t.same(selected.body.items.map(job => job.metadata.name), ['nightly', 'with-default-command'])
  t.match(await api('GET', runPath(project, 'jobs?limit=-1')), { status: 400 })
  t.match(await api('GET', runPath(project, 'jobs?continue=bm9wZQ')), { status: 400, body: { error: { message: /continue/ } } })
  t.match(await api('GET', runPath('empty-project', 'jobs')), { status: 200, body: { kind: 'JobsList', metadata: {} } })

  const replaced = await api<V1Job>('PUT', runPath(project, 'jobs/nightly'), body('nightly', { timeoutSeconds: 60 }))
  t.match(replaced.body, { metadata: { generation: 2, uid: created.body.metadata.uid }, spec: { template: { spec: { template: { spec: { timeoutSeconds: '60' } } } } } })
  t.match(await api('PUT', runPath(project, 'jobs/nightly'), body('other')), { status: 400, body: { error: { message: /does not match/ } } })
  t.match(await api('PUT', runPath(project, 'jobs/ghost'), body('ghost')), { status: 404 })

  // Running the created job runs its template: its own command (the companion job by default).
  const run = await api<V1Execution>('POST', runPath(project, 'jobs/nightly:run'), { overrides: { containerOverrides: [{ name: 'main', env: [{ name: 'ECHO_SLEEP_MS', value: '20000' }] }] } })
  t.equal(run.status, 200)
  t.same(run.body.spec.template.spec.containers[0]?.env, [{ name: 'MODE', value: 'batch' }, { name: 'ECHO_SLEEP_MS', value: '20000' }])
  await pollExecution(api, project, run.body.metadata.name, e => (e.status.runningCount ?? 0) > 0)
  const job = await api<V1Job>('GET', runPath(project, 'jobs/nightly'))
  t.match(job.body.status, { executionCount: 1, latestCreatedExecution: { name: run.body.metadata.name, completionStatus: 'EXECUTION_RUNNING' } })

  const deleted = await api('DELETE', runPath(project, 'jobs/nightly'))
  t.match(deleted, { status: 200, body: { kind: 'Status', status: 'Success', details: { name: 'nightly', kind: 'jobs', uid: created.body.metadata.uid } } })
  t.equal((await api('GET', runPath(project, 'jobs/nightly'))).status, 404)
  t.equal((await api('GET', runPath(project, `executions/${run.body.metadata.name}`))).status, 404, 'its executions went with it')
  t.same(emulator.executions(project, 'nightly'), [])
})

t.test('executions: list newest first with labelSelector, limit and continue; delete', async t => {
  const { emulator, api } = await setup(t)
  emulator.addJob({ project, name: 'other-job', maxRetries: 0 })
  const names: string[] = []
  for (const job of ['echo-job', 'other-job', 'echo-job', 'echo-job']) {
    names.push(((await api<V1Execution>('POST', runPath(project, `jobs/${job}:run`), {})).body).metadata.name)
  }
  const echoNames = [names[3], names[2], names[0]]
  const collected: string[] = []
  let token: string | undefined
  let pages = 0
  do {
    const query = `labelSelector=${encodeURIComponent('run.googleapis.com/job=echo-job')}&limit=2${token ? `&continue=${token}` : ''}`
    const page = await api<{ kind: string, items?: V1Execution[], metadata: { continue?: string } }>('GET', runPath(project, `executions?${query}`))
    t.equal(page.body.kind, 'ExecutionsList')
    collected.push(...(page.body.items ?? []).map(e => e.metadata.name))
    token = page.body.metadata.continue
    pages++
  } while (token)
  t.same(collected, echoNames, 'newest first, only echo-job')
  t.equal(pages, 2)
  const all = await api<{ items: V1Execution[] }>('GET', runPath(project, 'executions'))
  t.equal(all.body.items.length, 4)
  for (const [selector, count] of [['run.googleapis.com/job!=echo-job', 1], ['run.googleapis.com/job in (echo-job, other-job)', 4], ['run.googleapis.com/job notin (echo-job)', 1], ['run.googleapis.com/job', 4], ['!run.googleapis.com/job', 0], ['run.googleapis.com/job==other-job,cloud.googleapis.com/location=us-central1', 1]] as const) {
    const reply = await api<{ items?: V1Execution[] }>('GET', runPath(project, `executions?labelSelector=${encodeURIComponent(selector)}`))
    t.equal(reply.body.items?.length ?? 0, count, selector)
  }
  t.match(await api('GET', runPath(project, `executions?labelSelector=${encodeURIComponent('a in b')}`)), { status: 400, body: { error: { message: /labelSelector/ } } })
  t.match(await api('GET', runPath(project, `executions?labelSelector=${encodeURIComponent('a in (b c)')}`)), { status: 400 })

  for (const name of names) await pollExecution(api, project, name, isDone)
  const deleted = await api('DELETE', runPath(project, `executions/${names[0]}`))
  t.match(deleted.body, { kind: 'Status', details: { name: names[0], kind: 'executions' } })
  t.equal((await api('GET', runPath(project, `executions/${names[0]}`))).status, 404)

  const running = await api<V1Execution>('POST', runPath(project, 'jobs/echo-job:run'), overrides({ env: { ECHO_SLEEP_MS: '20000' } }))
  await pollExecution(api, project, running.body.metadata.name, e => (e.status.runningCount ?? 0) > 0)
  t.equal((await api('DELETE', runPath(project, `executions/${running.body.metadata.name}`))).status, 200, 'a running execution is stopped and deleted')
})

t.test('executions.list looks at and builds only the executions of the page it answers, however many the project has', async t => {
  const { emulator, api } = await setup(t)
  emulator.addJob({ project, name: 'timer-job', command: ['emulator:sleep', '0'], maxRetries: 0 })
  for (let i = 0; i < 30; i++) t.equal((await api('POST', runPath(project, 'jobs/timer-job:run'), {})).status, 200)
  const { resource, labels } = ExecutionRun.prototype
  let built = 0
  let looked = 0
  let building = false
  ExecutionRun.prototype.resource = function (this: ExecutionRun) {
    built++
    building = true
    try { return resource.call(this) } finally { building = false }
  }
  // Selecting by labels, not building a resource (which sets its labels).
  ExecutionRun.prototype.labels = function (this: ExecutionRun) { if (!building) looked++; return labels.call(this) }
  t.teardown(() => { Object.assign(ExecutionRun.prototype, { resource, labels }) })
  const query = `labelSelector=${encodeURIComponent('run.googleapis.com/job=timer-job')}&limit=5`
  const first = await api<{ items: V1Execution[], metadata: { continue?: string } }>('GET', runPath(project, `executions?${query}`))
  const next = `executions?${query}&continue=${first.body.metadata.continue ?? ''}`
  const second = await api<{ items: V1Execution[] }>('GET', runPath(project, next))
  t.equal(first.body.items.length + second.body.items.length, 10, 'two pages of 5')
  t.equal(built, 10, 'each page built its 5 executions, not the 30 of the job')
  t.equal(looked, 12, 'and looked at no more than them and the next one (is there a next page?)')
})

t.test('failNext: injected errors, delays and resets; every request is recorded', async t => {
  const { emulator, api, token } = await setup(t)
  emulator.requests.length = 0
  emulator.failNext({ method: 'POST', pathPattern: /:run$/ }, { status: 503 })
  const unavailable = await api('POST', runPath(project, 'jobs/echo-job:run'), {})
  t.match(unavailable, { status: 503, body: { error: { code: 503, status: 'UNAVAILABLE', message: 'The service is currently unavailable.' } } })
  t.equal(emulator.executions().length, 0, 'the failed run started nothing')
  t.equal((await api('POST', runPath(project, 'jobs/echo-job:run'), {})).status, 200, 'only once')
  t.equal(emulator.executions().length, 1)

  emulator.failNext({ pathPattern: /\/executions/ }, { status: 429, count: 2, headers: { 'Retry-After': '7' } })
  for (let i = 0; i < 2; i++) {
    const limited = await api('GET', runPath(project, 'executions'))
    t.match(limited, { status: 429, body: { error: { status: 'RESOURCE_EXHAUSTED' } } })
    t.equal(limited.headers.get('retry-after'), '7')
  }
  t.equal((await api('GET', runPath(project, 'executions'))).status, 200)

  emulator.failNext({ method: 'GET' }, { status: 500, body: 'plain failure' })
  t.match(await api('GET', runPath(project, 'jobs')), { status: 500, body: 'plain failure' })
  emulator.failNext({}, { status: 502, body: { custom: true } })
  t.match(await api('GET', runPath(project, 'jobs')), { status: 502, body: { custom: true } })
  emulator.failNext({}, { status: 418 })
  t.match(await api('GET', runPath(project, 'jobs')), { status: 418, body: { error: { code: 418, status: 'FAILED_PRECONDITION' } } })
  emulator.failNext({}, { status: 599 })
  t.match(await api('GET', runPath(project, 'jobs')), { status: 599, body: { error: { status: 'UNKNOWN' } } })

  // A delay without a status: the request is processed after the client may have given up.
  emulator.failNext({ pathPattern: /:run$/ }, { delayMs: 400 })
  const slow = await api('POST', runPath(project, 'jobs/echo-job:run'), {}).catch(error => error)
  t.equal(slow.status, 200)
  emulator.failNext({ pathPattern: /:run$/ }, { delayMs: 700 })
  await t.rejects(fetch(`${emulator.url}${runPath(project, 'jobs/echo-job:run')}`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(200) }), { name: 'TimeoutError' })

  emulator.failNext({ pathPattern: /:run$/ }, { reset: true })
  await t.rejects(api('POST', runPath(project, 'jobs/echo-job:run'), {}), { name: 'TypeError' }, 'connection reset')
  t.throws(() => emulator.failNext({}, { status: 500, count: 0 }), RangeError)

  const runs = emulator.requests.filter(r => r.path.endsWith(':run'))
  t.equal(runs.length, 5, 'every run request was recorded, failed or not')
  t.match(runs[0], { method: 'POST', path: runPath(project, 'jobs/echo-job:run'), body: {}, headers: { authorization: /^Bearer / } })
  t.type(runs[0]?.time, Date)
  for (let i = 0; i < 200 && emulator.executions().length < 3; i++) await new Promise(resolve => setTimeout(resolve, 20))
  t.equal(emulator.executions().length, 3, 'the delayed runs ran, even the one whose client gave up; the reset one did not')
})
