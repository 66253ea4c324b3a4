import t, { type Test } from 'tap'
import { request } from 'node:http'
import type { V1Execution, V1Job } from '../../emulator/index.js'
import { checkMessage } from '../../emulator/schema.js'
import { client, fetchToken, isDone, pollExecution, runPath, startTestEmulator } from './helpers.js'

/**
 * What gcloud needs from the resources (see emulator/README.md, "Works with gcloud"), checked
 * without gcloud: template metadata, creator/modifier, generations, replace semantics, strict
 * bodies, and requests sent through an HTTP proxy setting (absolute-form targets).
 */

const project = 'acme-prod'
const caller = '555-compute@developer.gserviceaccount.com'

async function setup (t: Test) {
  const emulator = await startTestEmulator(t, { projectId: project, projectNumber: '555', jobs: [{ project, name: 'echo-job', maxRetries: 0 }] })
  return { emulator, api: client(emulator, await fetchToken(emulator)) }
}

const jobBody = (
  name: string,
  extra: {
    metadata?: Record<string, unknown>
    template?: Record<string, unknown>
    taskSpec?: Record<string, unknown>
    container?: Record<string, unknown>
  } = {}
) => ({
  apiVersion: 'run.googleapis.com/v1',
  kind: 'Job',
  metadata: { name, labels: { team: 'data' }, annotations: { 'run.googleapis.com/client-name': 'gcloud' }, ...extra.metadata },
  spec: {
    template: {
      metadata: { labels: { tier: 'batch' }, annotations: { 'run.googleapis.com/execution-environment': 'gen2' } },
      spec: {
        taskCount: 2,
        template: {
          spec: {
            containers: [
              {
                image: 'us-docker.pkg.dev/p/r/img:1',
                resources: { limits: { cpu: '1000m', memory: '512Mi' } },
                env: [{ name: 'MODE', value: 'batch' }],
                ...extra.container
              }
            ],
            maxRetries: 0,
            timeoutSeconds: '120',
            ...extra.taskSpec
          }
        }
      },
      ...extra.template
    }
  }
})

t.test('a Job carries its template metadata, who made and changed it, and its generation', async t => {
  const { api } = await setup(t)
  const configured = await api<V1Job>('GET', runPath(project, 'jobs/echo-job'))
  t.match(configured.body, {
    metadata: {
      generation: 1,
      labels: { 'cloud.googleapis.com/location': 'us-central1', 'run.googleapis.com/lastUpdatedTime': String },
      annotations: { 'run.googleapis.com/creator': caller, 'run.googleapis.com/lastModifier': caller, 'run.googleapis.com/launch-stage': 'GA' }
    },
    spec: { template: { metadata: {}, spec: { template: { spec: { maxRetries: 0 } } } } },
    status: { observedGeneration: 1 }
  })

  const created = await api<V1Job>('POST', runPath(project, 'jobs'), jobBody('nightly'))
  t.equal(created.status, 200, JSON.stringify(created.body))
  t.match(created.body, {
    metadata: { generation: 1, labels: { team: 'data' }, annotations: { 'run.googleapis.com/client-name': 'gcloud', 'run.googleapis.com/creator': caller } },
    spec: {
      template: {
        metadata: { labels: { tier: 'batch' }, annotations: { 'run.googleapis.com/execution-environment': 'gen2' } },
        spec: { template: { spec: { maxRetries: 0, containers: [{ name: 'job', resources: { limits: { cpu: '1000m', memory: '512Mi' } } }] } } }
      }
    }
  })

  // gcloud's update: GET, change, PUT the whole object back (status and output-only metadata included).
  const got = (await api<V1Job>('GET', runPath(project, 'jobs/nightly'))).body
  got.spec.template.spec.taskCount = 3
  const replaced = await api<V1Job>('PUT', runPath(project, 'jobs/nightly'), got)
  t.equal(replaced.status, 200, JSON.stringify(replaced.body))
  t.match(replaced.body, {
    metadata: { generation: 2, uid: created.body.metadata.uid, creationTimestamp: created.body.metadata.creationTimestamp },
    spec: { template: { metadata: { labels: { tier: 'batch' } }, spec: { taskCount: 3, template: { spec: { maxRetries: 0, timeoutSeconds: '120', containers: [{ resources: { limits: { cpu: '1000m' } } }] } } } } },
    status: { observedGeneration: 2 }
  }, 'the round trip keeps everything but the change')
  t.equal(replaced.body.metadata.annotations?.['run.googleapis.com/creator'], caller)

  // A PUT is a replace, not a patch: what it leaves out is gone or back to its default.
  const bare = await api<V1Job>('PUT', runPath(project, 'jobs/nightly'), { metadata: { name: 'nightly' }, spec: { template: { spec: { template: { spec: { containers: [{ image: 'i' }] } } } } } })
  t.equal(bare.status, 200, JSON.stringify(bare.body))
  t.equal(bare.body.metadata.generation, 3)
  t.same(bare.body.spec.template.metadata, {}, 'template labels and annotations are gone')
  t.notOk(bare.body.metadata.labels.team, 'job labels are gone')
  t.match(bare.body.spec.template.spec, { taskCount: 1, template: { spec: { maxRetries: 3, timeoutSeconds: '600' } } }, 'defaults again')
  t.notOk(bare.body.spec.template.spec.template.spec.containers[0]?.resources)
})

t.test('an execution starts from the template metadata and names who ran it', async t => {
  const { api } = await setup(t)
  t.equal((await api('POST', runPath(project, 'jobs'), jobBody('nightly', { container: { command: [process.execPath, '-e', ''] } }))).status, 200)
  const run = await api<V1Execution>('POST', runPath(project, 'jobs/nightly:run'), {})
  t.match(run.body.metadata, {
    generation: 1,
    labels: { tier: 'batch', 'run.googleapis.com/job': 'nightly', 'cloud.googleapis.com/location': 'us-central1', 'run.googleapis.com/jobUid': String },
    annotations: { 'run.googleapis.com/execution-environment': 'gen2', 'run.googleapis.com/creator': caller }
  })
  t.match(run.body.spec.template.spec.containers[0], { resources: { limits: { memory: '512Mi' } } })
  const done = await pollExecution(api, project, run.body.metadata.name, isDone)
  t.match(done.status, { observedGeneration: 1, succeededCount: 2, startTime: String, completionTime: String, logUri: /^https:\/\/console\.cloud\.google\.com\/logs/ })
})

t.test('a Job with a field the v1 Job does not have is a 400 naming it, and changes nothing', async t => {
  const { emulator, api } = await setup(t)
  const before = (await api<V1Job>('GET', runPath(project, 'jobs/echo-job'))).body
  const cases: Array<[string, unknown, RegExp]> = [
    ['top level', { ...jobBody('echo-job'), spec2: {} }, /Unknown name "spec2" at 'job': Cannot find field\./],
    ['metadata', jobBody('echo-job', { metadata: { labelz: {} } }), /Unknown name "labelz" at 'job\.metadata'/],
    ['template', jobBody('echo-job', { template: { spek: {} } }), /Unknown name "spek" at 'job\.spec\.template'/],
    ['task spec', jobBody('echo-job', { taskSpec: { maxRetry: 1 } }), /Unknown name "maxRetry" at 'job\.spec\.template\.spec\.template\.spec'/],
    ['container', jobBody('echo-job', { container: { entrypoint: ['x'] } }), /Unknown name "entrypoint" at 'job\.spec\.template\.spec\.template\.spec\.containers\[0\]'/],
    ['env entry', jobBody('echo-job', { container: { env: [{ name: 'A', val: 'x' }] } }), /Unknown name "val" at 'job\.spec\.template\.spec\.template\.spec\.containers\[0\]\.env\[0\]'/],
    ['wrong type', jobBody('echo-job', { taskSpec: { maxRetries: 'three' } }), /Invalid value at 'job\.spec\.template\.spec\.template\.spec\.max_retries' \(TYPE_INT32\), "three"/]
  ]
  for (const [why, body, message] of cases) {
    for (const [method, path] of [['PUT', 'jobs/echo-job'], ['POST', 'jobs']] as const) {
      const reply = await api<{ error: { status: string, message: string } }>(method, runPath(project, path), body)
      t.equal(reply.status, 400, `${method} ${why}`)
      t.equal(reply.body.error.status, 'INVALID_ARGUMENT', `${method} ${why}`)
      t.match(reply.body.error.message, message, `${method} ${why}`)
    }
  }
  t.same((await api<V1Job>('GET', runPath(project, 'jobs/echo-job'))).body, before, 'the job did not change')
  t.same((await api<{ items: V1Job[] }>('GET', runPath(project, 'jobs'))).body.items.map(job => job.metadata.name), ['echo-job'], 'nothing was created')
  t.equal(emulator.executions().length, 0)
})

t.test('a :run with a bad override is a 400 naming the field, and starts nothing', async t => {
  const { emulator, api } = await setup(t)
  const before = (await api<V1Job>('GET', runPath(project, 'jobs/echo-job'))).body
  const cases: Array<[string, unknown, RegExp]> = [
    ['negative taskCount', { overrides: { taskCount: -1 } }, /overrides\.task_count: must be between 1 and 10000, got -1/],
    ['negative timeout', { overrides: { timeoutSeconds: -5 } }, /overrides\.timeout_seconds: must be between 1/],
    ['env entry without a name', { overrides: { containerOverrides: [{ env: [{ value: 'x' }] }] } }, /overrides\.container_overrides\[0\]\.env\[0\]\.name: Required/],
    ['a container the job lacks', { overrides: { containerOverrides: [{ args: ['a'] }, { name: 'sidecar', args: ['x'] }] } }, /overrides\.container_overrides\[1\]\.name: container override 'sidecar' does not match any container of job 'echo-job'/]
  ]
  for (const [why, body, message] of cases) {
    const reply = await api<{ error: { code: number, status: string, message: string } }>('POST', runPath(project, 'jobs/echo-job:run'), body)
    t.match(reply, { status: 400, body: { error: { code: 400, status: 'INVALID_ARGUMENT', message } } }, why)
  }
  t.equal(emulator.executions().length, 0, 'no execution')
  t.same((await api<V1Job>('GET', runPath(project, 'jobs/echo-job'))).body, before, 'the job did not change')
})

t.test('requests sent through an HTTP proxy setting (absolute-form targets) are served', async t => {
  const { emulator } = await setup(t)
  const token = await fetchToken(emulator)
  const { port } = new URL(emulator.url)
  // What gcloud sends with proxy/* pointed at the emulator: the regional host gcloud made up, in full.
  const target = `http://us-central1-127.0.0.1:${port}/apis/run.googleapis.com/v1/namespaces/${project}/jobs/echo-job?alt=json`
  const reply = await new Promise<{ status: number, body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'GET', path: target, headers: { authorization: `Bearer ${token}` } }, res => {
      let body = ''
      res.setEncoding('utf8').on('data', chunk => { body += chunk }).on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject).end()
  })
  t.equal(reply.status, 200, reply.body)
  t.equal((JSON.parse(reply.body) as V1Job).metadata.name, 'echo-job')
  const recorded = emulator.requests.at(-1)
  t.equal(recorded?.path, `/apis/run.googleapis.com/v1/namespaces/${project}/jobs/echo-job`)
  t.equal(recorded?.url, `/apis/run.googleapis.com/v1/namespaces/${project}/jobs/echo-job?alt=json`, 'recorded without scheme and host')
})

t.test('checkMessage: every JSON type of the v1 messages', async t => {
  const rejects = (value: unknown, message: string, pattern: RegExp, why: string): void => {
    t.throws(() => checkMessage(value, message, 'x'), { status: 'INVALID_ARGUMENT', message: pattern }, why)
  }
  t.doesNotThrow(() => checkMessage({ metadata: null, spec: { template: { spec: { taskCount: '2', template: { spec: { timeoutSeconds: '60', containers: [{ image: 'i', ports: [{ containerPort: 8080 }], securityContext: { runAsUser: 1000 } }] } } } } } }, 'Job', 'job'))
  t.doesNotThrow(() => checkMessage({ status: { latestCreatedExecution: { completionStatus: 'EXECUTION_FAILED' } } }, 'Job', 'job'), 'an enum value')
  rejects({ image: 3 }, 'Container', /Invalid value at 'x\.image' \(TYPE_STRING\), 3/, 'string')
  rejects({ ports: [{ containerPort: 1.5 }] }, 'Container', /'x\.ports\[0\]\.container_port' \(TYPE_INT32\)/, 'int32')
  rejects({ timeoutSeconds: 'soon' }, 'TaskSpec', /'x\.timeout_seconds' \(TYPE_INT64\), "soon"/, 'int64')
  rejects({ clearArgs: 'yes' }, 'ContainerOverride', /'x\.clear_args' \(TYPE_BOOL\), "yes"/, 'boolean')
  rejects({ containers: {} }, 'TaskSpec', /'x\.containers' \(a list\)/, 'list')
  rejects({ nodeSelector: [] }, 'TaskSpec', /'x\.node_selector' \(a map\)/, 'map')
  rejects({ nodeSelector: { a: 1 } }, 'TaskSpec', /'x\.node_selector\["a"\]' \(TYPE_STRING\)/, 'map value')
  rejects({ completionStatus: 'DONE' }, 'ExecutionReference', /TYPE_ENUM/, 'enum')
  rejects('job', 'Job', /\(type\.googleapis\.com\/google\.cloud\.run\.v1\.Job\), "job"/, 'not an object')
  t.throws(() => checkMessage({}, 'NoSuchMessage', 'x'), RangeError)
})
