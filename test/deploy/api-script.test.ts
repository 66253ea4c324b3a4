import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { declaredIndexes } from '../helpers/firestore-query-indexes.js'
import { StubWorld, argv, flagValue, gitShortSha, parseWithGcloud, repoRoot, type Call, type ScriptResult } from './stubs.js'

const script = join(repoRoot, 'build-deploy-api.sh')
const catalog = {
  jobs: {
    echo: { job: 'echo-job', env: { allow: ['DATE', 'REPORT_*'], tenantKey: 'TENANT_ID' }, args: { allow: true, maxItems: 20 } },
    'echo-again': { job: 'echo-job' },
    report: { project: 'other-project', region: 'us-east1', job: 'nightly-report' },
    cleanup: {}
  }
}
const url = 'https://jobgate-api-123456789012.europe-west1.run.app'
const account = 'jobgate-api@my-project.iam.gserviceaccount.com'
const member = `serviceAccount:${account}`
const image = (tag: string): string => `europe-west1-docker.pkg.dev/my-project/jobgate/jobgate-api:${tag}`

// About 60 runs of the script, each starting node once (twice with Firestore): 1 minute alone, 11 beside two CPU burners
// and two other test runs.
t.setTimeout(1_500_000)

const world = new StubWorld()
t.teardown(() => world.remove())
t.beforeEach(() => world.reset())

const catalogFile = join(world.dir, 'catalog.json')
writeFileSync(catalogFile, JSON.stringify(catalog, null, 2))
const required = {
  PROJECT_ID: 'my-project',
  REGION: 'europe-west1',
  REPOSITORY: 'jobgate',
  JOBGATE_AUTH: 'google',
  JOBGATE_AUDIENCE: url,
  CATALOG_FILE: catalogFile
}

const find = (result: ScriptResult, prefix: string): Call | undefined => result.calls.find(call => argv(call).startsWith(prefix))

/** The gcloud command creating each index of firestore-indexes.json, its collection group named for `collection`, fields in order. */
const indexCreates = (collection: string, database = '(default)'): string[] => declaredIndexes().map(({ collectionGroup, fields }) =>
  `gcloud firestore indexes composite create --collection-group ${collectionGroup.replace('{collection}', collection)} ` +
  fields.map(({ fieldPath, order }) => `--field-config field-path=${fieldPath},order=${order.toLowerCase()} `).join('') +
  `--database ${database} --project my-project --async`)
const outboxIndex = 'gcloud firestore indexes composite create --collection-group jobgate-idempotency-events' +
  ' --field-config field-path=job,order=ascending --field-config field-path=published,order=ascending' +
  ' --field-config field-path=recordedAt,order=ascending --database (default) --project my-project --async'
const findAll = (result: ScriptResult, prefix: string): Call[] => result.calls.filter(call => argv(call).startsWith(prefix))

t.test('first run: the exact command sequence, least-privilege IAM, a private service', async t => {
  const result = world.run(script, { ...required, IMAGE_TAG: 'v7' })
  t.equal(result.status, 0, 'exits 0', { stderr: result.stderr })
  const deploy = find(result, 'gcloud run deploy')
  t.same(result.calls.map(call => [call.tool, ...call.args]), [
    ['gcloud', 'artifacts', 'repositories', 'describe', 'jobgate', '--project', 'my-project', '--location', 'europe-west1'],
    ['gcloud', 'artifacts', 'repositories', 'create', 'jobgate', '--project', 'my-project', '--location', 'europe-west1',
      '--repository-format', 'docker', '--description', 'jobgate images'],
    ['gcloud', 'auth', 'configure-docker', 'europe-west1-docker.pkg.dev', '--quiet'],
    ['docker', 'buildx', 'build', '--push', '--platform', 'linux/amd64', '-f', 'Dockerfile.api', '-t', image('v7'), '.'],
    ['gcloud', 'iam', 'service-accounts', 'describe', account, '--project', 'my-project'],
    ['gcloud', 'iam', 'service-accounts', 'create', 'jobgate-api', '--project', 'my-project', '--display-name', 'jobgate API'],
    ['gcloud', 'run', 'jobs', 'add-iam-policy-binding', 'echo-job', '--project', 'my-project', '--region', 'europe-west1',
      '--member', member, '--role', 'roles/run.jobsExecutorWithOverrides', '--quiet'],
    ['gcloud', 'run', 'jobs', 'add-iam-policy-binding', 'nightly-report', '--project', 'other-project', '--region', 'us-east1',
      '--member', member, '--role', 'roles/run.jobsExecutorWithOverrides', '--quiet'],
    ['gcloud', 'run', 'jobs', 'add-iam-policy-binding', 'cleanup', '--project', 'my-project', '--region', 'europe-west1',
      '--member', member, '--role', 'roles/run.jobsExecutorWithOverrides', '--quiet'],
    ['gcloud', 'projects', 'add-iam-policy-binding', 'my-project', '--member', member, '--role', 'roles/run.viewer', '--condition', 'None', '--quiet'],
    ['gcloud', 'projects', 'add-iam-policy-binding', 'my-project', '--member', member, '--role', 'roles/logging.viewer', '--condition', 'None', '--quiet'],
    ['gcloud', 'projects', 'add-iam-policy-binding', 'other-project', '--member', member, '--role', 'roles/run.viewer', '--condition', 'None', '--quiet'],
    ['gcloud', 'projects', 'add-iam-policy-binding', 'other-project', '--member', member, '--role', 'roles/logging.viewer', '--condition', 'None', '--quiet'],
    ['gcloud', 'run', 'deploy', 'jobgate-api', '--project', 'my-project', '--region', 'europe-west1', '--image', image('v7'),
      '--service-account', account, '--no-allow-unauthenticated', '--set-env-vars', flagValue(deploy, 'set-env-vars'),
      '--max-instances', '1', '--cpu-throttling', '--min-instances', '0', '--clear-secrets', '--quiet'],
    ['gcloud', 'run', 'services', 'describe', 'jobgate-api', '--project', 'my-project', '--region', 'europe-west1',
      '--format', 'value(status.url)']
  ])
  const build = result.calls.find(call => call.tool === 'docker')
  t.equal(flagValue(deploy, 'image'), build?.args[build.args.indexOf('-t') + 1], 'the deployed image is the pushed one')
  t.equal(build?.cwd, repoRoot, 'docker builds from the repository root')
  t.ok(deploy?.args.includes('--no-allow-unauthenticated'), 'private by default')
  t.notOk(deploy?.args.includes('--allow-unauthenticated'))
  t.match(result.stdout, `Service URL: ${url}`)
  t.match(result.stdout, `curl -H "Authorization: Bearer $(gcloud auth print-identity-token --audiences=${url})" ${url}/v1/jobs`)
  t.match(result.stdout, `${url}/v1/jobs/echo/runs`)
})

t.test('the settings reach the service intact through gcloud\'s own --set-env-vars parser', async t => {
  const result = world.run(script, { ...required, LOG_LEVEL: 'debug', JOBGATE_RATE_LIMIT: '100/minute' })
  t.equal(result.status, 0, 'exits 0', { stderr: result.stderr })
  const value = flagValue(find(result, 'gcloud run deploy'), 'set-env-vars') ?? ''
  t.match(value, /^\^@\^/, 'uses gcloud\'s alternate delimiter')
  const env = parseWithGcloud(value)
  t.same(env, {
    JOBGATE_MODE: 'cloud',
    JOBGATE_AUTH: 'google',
    JOBGATE_JOBS: JSON.stringify(catalog),
    GOOGLE_CLOUD_PROJECT: 'my-project',
    CLOUD_RUN_REGION: 'europe-west1',
    JOBGATE_AUDIENCE: url,
    JOBGATE_RATE_LIMIT: '100/minute',
    LOG_LEVEL: 'debug'
  })
  t.same(JSON.parse(env.JOBGATE_JOBS ?? ''), catalog, 'the catalog JSON survives, commas and all')
})

t.test('with Firestore, --max-instances follows from the read budgets: instances × budget stays within the project\'s quotas', async t => {
  // The default (2: 60 / 30 log reads, 1,000 / 300 Cloud Run reads) is in the Firestore test's argv.
  const shared = { ...required, JOBGATE_IDEMPOTENCY: 'firestore' }
  const settings = { JOBGATE_LOGGING_READS_PER_MINUTE: '10', JOBGATE_RUN_READS_PER_MINUTE: '100' }
  const result = world.run(script, { ...shared, ...settings })
  t.equal(result.status, 0, 'exits 0', { stderr: result.stderr })
  t.equal(flagValue(find(result, 'gcloud run deploy'), 'max-instances'), '6', 'min(60 / 10, 1,000 / 100)')
  t.match(parseWithGcloud(flagValue(find(result, 'gcloud run deploy'), 'set-env-vars') ?? ''), settings, 'the budgets reach the service')
  const tooMany = world.run(script, { ...shared, MAX_INSTANCES: '3' })
  t.not(tooMany.status, 0)
  t.match(tooMany.stderr, /MAX_INSTANCES=3 .* at most 2/)
  t.same(tooMany.calls, [], 'nothing ran')
  const greedy = world.run(script, { ...required, JOBGATE_LOGGING_READS_PER_MINUTE: '61', JOBGATE_RUN_READS_PER_MINUTE: 'lots' })
  t.not(greedy.status, 0)
  t.match(greedy.stderr, /JOBGATE_RUN_READS_PER_MINUTE must be a whole number/)
})

t.test('a delimiter that occurs in no value is chosen', async t => {
  const awkward = { jobs: { echo: { job: 'echo-job', note: 'ops@example.com | on call' } } }
  const result = world.run(script, { ...required, CATALOG_FILE: '', JOBGATE_JOBS: JSON.stringify(awkward) })
  t.equal(result.status, 0, 'exits 0', { stderr: result.stderr })
  const value = flagValue(find(result, 'gcloud run deploy'), 'set-env-vars') ?? ''
  t.match(value, /^\^~\^/)
  t.same(JSON.parse(parseWithGcloud(value).JOBGATE_JOBS ?? ''), awkward)
  t.same(findAll(result, 'gcloud run jobs add-iam-policy-binding').map(call => call.args[3]), ['echo-job'], 'JOBGATE_JOBS is a catalog too')
})

t.test('API keys come from Secret Manager, and a raw key is refused without being echoed', async t => {
  const result = world.run(script, { ...required, JOBGATE_AUTH: 'apikey,google', JOBGATE_API_KEYS_SECRET: 'jobgate-keys' })
  t.equal(result.status, 0, 'exits 0', { stderr: result.stderr })
  t.same(find(result, 'gcloud secrets add-iam-policy-binding')?.args,
    ['secrets', 'add-iam-policy-binding', 'jobgate-keys', '--project', 'my-project', '--member', member,
      '--role', 'roles/secretmanager.secretAccessor', '--quiet'])
  t.equal(flagValue(find(result, 'gcloud run deploy'), 'set-secrets'), 'JOBGATE_API_KEYS=jobgate-keys:latest')
  t.notOk(find(result, 'gcloud run deploy')?.args.includes('--clear-secrets'))
  const pinned = world.run(script, { ...required, JOBGATE_AUTH: 'apikey', JOBGATE_API_KEYS_SECRET: 'jobgate-keys:3' })
  t.equal(flagValue(find(pinned, 'gcloud run deploy'), 'set-secrets'), 'JOBGATE_API_KEYS=jobgate-keys:3')

  const raw = world.run(script, { ...required, JOBGATE_API_KEYS: 'sk-very-secret-value' }, ['--dry-run'])
  t.equal(raw.status, 2)
  t.match(raw.stderr, 'JOBGATE_API_KEYS_SECRET')
  t.notMatch(raw.stdout + raw.stderr, 'sk-very-secret-value', 'the key is never printed')
  t.same(raw.calls, [])
})

t.test('ALLOW_UNAUTHENTICATED=true is refused while jobgate itself checks nobody', async t => {
  for (const auth of ['none', '']) {
    const result = world.run(script, { ...required, JOBGATE_AUTH: auth, ALLOW_UNAUTHENTICATED: 'true' })
    t.equal(result.status, 2, `JOBGATE_AUTH=${auth}`)
    t.match(result.stderr, 'ALLOW_UNAUTHENTICATED=true refused')
    t.same(result.calls, [], 'nothing ran')
  }
  const open = world.run(script, { ...required, ALLOW_UNAUTHENTICATED: 'true' })
  t.equal(open.status, 0, 'exits 0', { stderr: open.stderr })
  const deploy = find(open, 'gcloud run deploy')
  t.ok(deploy?.args.includes('--allow-unauthenticated'), 'opened on purpose, with google auth in jobgate')
  t.notOk(deploy?.args.includes('--no-allow-unauthenticated'))
  const odd = world.run(script, { ...required, ALLOW_UNAUTHENTICATED: 'yes' })
  t.equal(odd.status, 2)
  t.match(odd.stderr, 'ALLOW_UNAUTHENTICATED must be true or false')
})

t.test('a second run updates in place and creates nothing', async t => {
  t.equal(world.run(script, required).status, 0)
  const second = world.run(script, required)
  t.equal(second.status, 0, 'exits 0', { stderr: second.stderr })
  t.notOk(second.calls.some(call => call.args.includes('create')), 'no create call')
  t.equal(findAll(second, 'gcloud run jobs add-iam-policy-binding').length, 3, 'bindings re-applied (a no-op in IAM)')
  t.equal(flagValue(find(second, 'gcloud run deploy'), 'image'), image(gitShortSha()), 'IMAGE_TAG defaults to the git short sha')
})

t.test('each missing required variable is named, exits 2 and runs nothing', async t => {
  const cases: Array<[string, Record<string, string>]> = [
    ['PROJECT_ID', { PROJECT_ID: '' }],
    ['REGION', { REGION: '' }],
    ['REPOSITORY', { REPOSITORY: '' }],
    ['JOBGATE_AUTH', { JOBGATE_AUTH: '' }],
    ['JOBGATE_AUDIENCE', { JOBGATE_AUDIENCE: '' }],
    ['JOBGATE_API_KEYS_SECRET', { JOBGATE_AUTH: 'apikey' }],
    ['CATALOG_FILE', { CATALOG_FILE: join(world.dir, 'no-such.json') }]
  ]
  for (const [name, override] of cases) {
    const result = world.run(script, { ...required, ...override })
    t.equal(result.status, 2, `without ${name}`)
    t.match(result.stderr, name)
    t.same(result.calls, [], `nothing ran without ${name}`)
  }
  const none = world.run(script, {}, [], world.dir)
  t.equal(none.status, 2)
  t.match(none.stderr, 'missing required variable(s): PROJECT_ID REGION REPOSITORY JOBGATE_AUTH', 'all are listed at once')
  t.match(none.stderr, 'CATALOG_FILE: no file at \'jobs.json\'')
})

t.test('the catalog defaults to jobs.json in the current directory', async t => {
  writeFileSync(join(world.dir, 'jobs.json'), JSON.stringify({ jobs: { echo: {} } }))
  const vars: Record<string, string> = { ...required }
  delete vars.CATALOG_FILE
  const result = world.run(script, vars, [], world.dir)
  t.equal(result.status, 0, 'exits 0', { stderr: result.stderr })
  t.same(findAll(result, 'gcloud run jobs add-iam-policy-binding').map(call => call.args[3]), ['echo'])
})

t.test('a bad catalog or bad setting is refused before anything runs', async t => {
  const bad = join(world.dir, 'bad.json')
  const catalogs: Array<[string, string]> = [
    ['{"jobs": {', 'JSON'],
    ['{"jobs": {}}', 'non-empty "jobs" object'],
    ['[1]', 'non-empty "jobs" object'],
    ['{"jobs": {"echo": 3}}', 'jobs.echo must be an object'],
    ['{"jobs": {"Echo_Job": {}}}', 'jobs.Echo_Job.job is not a valid job'],
    ['{"jobs": {"echo": {"project": "-oops"}}}', 'jobs.echo.project is not a valid project']
  ]
  for (const [text, message] of catalogs) {
    writeFileSync(bad, text)
    const result = world.run(script, { ...required, CATALOG_FILE: bad })
    t.equal(result.status, 2, text)
    t.match(result.stderr, `CATALOG_FILE ${bad}`)
    t.match(result.stderr, message)
    t.same(result.calls, [])
  }
  const settings: Array<[Record<string, string>, string]> = [
    [{ JOBGATE_AUTH: 'password' }, 'unknown method \'password\''],
    [{ JOBGATE_AUTH: 'none,google' }, 'none cannot be combined'],
    [{ JOBGATE_AUTH: 'google,' }, 'JOBGATE_AUTH must be'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL must be'],
    [{ INVOKERS: 'ci@example.com' }, 'INVOKERS must be'],
    [{ SERVICE_NAME: 'Jobgate' }, 'SERVICE_NAME must be'],
    [{ JOBGATE_JOBS: '{"jobs":{"echo":{}}}' }, 'either CATALOG_FILE or JOBGATE_JOBS']
  ]
  for (const [override, message] of settings) {
    const result = world.run(script, { ...required, ...override })
    t.equal(result.status, 2, JSON.stringify(override))
    t.match(result.stderr, message)
    t.same(result.calls, [])
  }
})

t.test('IAM bindings are retried while a new service account propagates', async t => {
  const flaky = world.run(script, { ...required, STUB_FAIL_ONCE: 'roles/run.jobsExecutorWithOverrides' })
  t.equal(flaky.status, 0, 'exits 0', { stderr: flaky.stderr })
  t.equal(findAll(flaky, 'gcloud run jobs add-iam-policy-binding echo-job').length, 2, 'retried once')
  world.reset()
  const broken = world.run(script, { ...required, STUB_FAIL_ALWAYS: 'roles/logging.viewer', IAM_RETRIES: '3' })
  t.not(broken.status, 0)
  t.equal(findAll(broken, 'gcloud projects add-iam-policy-binding my-project --member').filter(call => call.args.includes('roles/logging.viewer')).length, 3)
  t.notOk(find(broken, 'gcloud run deploy'), 'no deploy without the permissions it needs')
})

t.test('Firestore: API enabled, Native database created when missing, TTL policy on, datastore.user granted, the service told', async t => {
  const result = world.run(script, { ...required, JOBGATE_IDEMPOTENCY: 'firestore', JOBGATE_IDEMPOTENCY_COLLECTION: 'keys', JOBGATE_MAX_INFLIGHT_RUNS: '8' })
  t.equal(result.status, 0, 'exits 0', { stderr: result.stderr })
  const firestoreCalls = result.calls.filter(call => call.args[0] !== 'run' && call.args.some(arg => /firestore|datastore/.test(arg))).map(argv)
  t.same(firestoreCalls, [
    'gcloud services enable firestore.googleapis.com --project my-project',
    'gcloud firestore databases describe --database (default) --project my-project',
    'gcloud firestore databases create --database (default) --location europe-west1 --type firestore-native --project my-project',
    'gcloud firestore databases describe --database (default) --project my-project --format value(type)',
    ...['keys', 'keys-runs', 'keys-events'].map(group =>
      `gcloud firestore fields ttls update expireAt --collection-group ${group} --enable-ttl --database (default) --project my-project --async`),
    ...indexCreates('keys'),
    `gcloud projects add-iam-policy-binding my-project --member ${member} --role roles/datastore.user --condition None --quiet`
  ])
  t.ok(result.calls.findIndex(call => call.args.includes('firestore-native')) < result.calls.findIndex(call => call.tool === 'docker'),
    'the database is settled before the image is built')
  const deploy = find(result, 'gcloud run deploy')
  t.equal(flagValue(deploy, 'max-instances'), '2', 'several instances sharing Firestore: min(60 / 30 log reads, 1,000 / 300 Cloud Run reads)')
  t.match(parseWithGcloud(flagValue(deploy, 'set-env-vars') ?? ''), {
    JOBGATE_IDEMPOTENCY: 'firestore', JOBGATE_FIRESTORE_DATABASE: '(default)', JOBGATE_IDEMPOTENCY_COLLECTION: 'keys', JOBGATE_MAX_INFLIGHT_RUNS: '8'
  })

  const again = world.run(script, { ...required, JOBGATE_IDEMPOTENCY: 'firestore' })
  t.equal(again.status, 0, 'exits 0', { stderr: again.stderr })
  t.notOk(find(again, 'gcloud firestore databases create'), 'an existing database is kept')
  t.equal(flagValue(find(again, 'gcloud firestore fields ttls update'), 'collection-group'), 'jobgate-idempotency', 'the default collection')
  // With the memory store, no Firestore call at all: the first test's exact sequence.
})

t.test('run events: the topic created when missing, publisher on it alone, the CPU kept on; with Firestore the outbox index and TTLs', async t => {
  const vars = { ...required, JOBGATE_IDEMPOTENCY: 'firestore', JOBGATE_EVENTS_TOPIC: 'projects/events-project/topics/run-events', JOBGATE_LEASE_SECONDS: '20' }
  const result = world.run(script, vars)
  t.equal(result.status, 0, 'exits 0', { stderr: result.stderr })
  t.same(result.calls.filter(call => call.args.some(arg => /pubsub/.test(arg))).map(argv), [
    'gcloud services enable pubsub.googleapis.com --project events-project',
    'gcloud pubsub topics describe run-events --project events-project',
    'gcloud pubsub topics create run-events --project events-project',
    `gcloud pubsub topics add-iam-policy-binding run-events --project events-project --member ${member} --role roles/pubsub.publisher --quiet`
  ])
  t.same(findAll(result, 'gcloud firestore fields ttls update').map(call => flagValue(call, 'collection-group')),
    ['jobgate-idempotency', 'jobgate-idempotency-runs', 'jobgate-idempotency-events'], 'keys, run records and events expire')
  const indexes = findAll(result, 'gcloud firestore indexes composite create').map(argv)
  t.same(indexes, indexCreates('jobgate-idempotency'), 'every declared index')
  t.ok(indexes.includes(outboxIndex), 'the outbox\'s among them')
  const deploy = find(result, 'gcloud run deploy')
  t.ok(deploy?.args.includes('--no-cpu-throttling'), 'the reconcilers and the outbox run between requests')
  t.equal(flagValue(deploy, 'min-instances'), '1')
  t.match(parseWithGcloud(flagValue(deploy, 'set-env-vars') ?? ''), {
    JOBGATE_EVENTS_TOPIC: 'projects/events-project/topics/run-events', JOBGATE_LEASE_SECONDS: '20'
  })

  const again = world.run(script, vars)
  t.equal(again.status, 0, 'a second run: the index\'s ALREADY_EXISTS is what it wants', { stderr: again.stderr })
  t.match(again.stderr, 'ALREADY_EXISTS: nothing to do')
  t.notOk(find(again, 'gcloud pubsub topics create'), 'an existing topic is kept')
  world.reset()
  const broken = world.run(script, { ...vars, STUB_FAIL_ALWAYS: 'indexes composite create' })
  t.equal(broken.status, 1, 'any other failure of the index stops the script')
  t.match(broken.stderr, 'stub: failing as asked')
  t.notOk(find(broken, 'gcloud run deploy'), 'nothing deployed')
  const later = world.run(script, required)
  t.ok(find(later, 'gcloud run deploy')?.args.includes('--cpu-throttling'), 'without events, a redeploy undoes the always-on CPU')
  t.equal(flagValue(find(later, 'gcloud run deploy'), 'min-instances'), '0')
  for (const topic of ['run-events', 'projects/p/topics/t', 'projects/my-project/subscriptions/x']) {
    const bad = world.run(script, { ...required, JOBGATE_EVENTS_TOPIC: topic })
    t.equal(bad.status, 2, topic)
    t.match(bad.stderr, 'JOBGATE_EVENTS_TOPIC must be a Pub/Sub topic name: projects/PROJECT/topics/TOPIC')
    t.same(bad.calls, [])
  }
})

t.test('Firestore: a named database in a chosen location; a Datastore-mode database stops the script before the build', async t => {
  const named = { ...required, JOBGATE_IDEMPOTENCY: 'firestore', JOBGATE_FIRESTORE_DATABASE: 'jobgate-state', FIRESTORE_LOCATION: 'eur3', MAX_INSTANCES: '2' }
  const result = world.run(script, named)
  t.equal(result.status, 0, 'exits 0', { stderr: result.stderr })
  t.equal(argv(find(result, 'gcloud firestore databases create') ?? { tool: 'gcloud', cwd: '', args: [] }),
    'gcloud firestore databases create --database jobgate-state --location eur3 --type firestore-native --project my-project')
  t.equal(flagValue(find(result, 'gcloud firestore fields ttls update'), 'database'), 'jobgate-state')
  t.match(parseWithGcloud(flagValue(find(result, 'gcloud run deploy'), 'set-env-vars') ?? ''), { JOBGATE_FIRESTORE_DATABASE: 'jobgate-state' })

  world.reset()
  writeFileSync(join(world.state, 'db-jobgate-state'), 'DATASTORE_MODE\n')
  const datastore = world.run(script, named)
  t.equal(datastore.status, 1)
  t.match(datastore.stderr, 'error: Firestore database jobgate-state of my-project is in DATASTORE_MODE mode; jobgate needs Native mode')
  t.notOk(datastore.calls.some(call => call.tool === 'docker' || argv(call).startsWith('gcloud run deploy')), 'nothing built or deployed')

  for (const [setting, message] of [[{ JOBGATE_FIRESTORE_DATABASE: 'DB' }, 'JOBGATE_FIRESTORE_DATABASE must be'], [{ FIRESTORE_LOCATION: 'x y' }, 'FIRESTORE_LOCATION must be']] as const) {
    const bad = world.run(script, { ...named, ...setting })
    t.equal(bad.status, 2, message)
    t.match(bad.stderr, message)
    t.same(bad.calls, [])
  }
})

t.test('more than one instance with the memory store is refused before anything runs, in one line naming both settings', async t => {
  for (const vars of [{ MAX_INSTANCES: '2' }, { MAX_INSTANCES: '2', JOBGATE_IDEMPOTENCY: 'memory' }] as Array<Record<string, string>>) {
    for (const args of [[], ['--dry-run']]) {
      const result = world.run(script, { ...required, ...vars }, args)
      t.equal(result.status, 2, JSON.stringify({ ...vars, args }))
      t.same(result.calls, [], 'nothing ran')
      t.equal(result.stdout, '', 'nothing printed to run')
      const errors = result.stderr.split('\n').filter(line => line.startsWith('error: '))
      t.same(errors, ['error: MAX_INSTANCES=2 needs JOBGATE_IDEMPOTENCY=firestore, not memory (each instance would keep its own idempotency keys' +
        ' and concurrency leases): set JOBGATE_IDEMPOTENCY=firestore, or MAX_INSTANCES=1'])
    }
  }
  // One instance with the memory store is the default: the first test's argv.
})

t.test('INVOKERS get roles/run.invoker on the service', async t => {
  const result = world.run(script, { ...required, INVOKERS: 'serviceAccount:ci@my-project.iam.gserviceaccount.com,user:me@example.com' })
  t.equal(result.status, 0, 'exits 0', { stderr: result.stderr })
  t.same(findAll(result, 'gcloud run services add-iam-policy-binding').map(call => [flagValue(call, 'member'), flagValue(call, 'role')]), [
    ['serviceAccount:ci@my-project.iam.gserviceaccount.com', 'roles/run.invoker'],
    ['user:me@example.com', 'roles/run.invoker']
  ])
})

t.test('--dry-run runs nothing and prints exactly what a run executes', async t => {
  const vars = {
    ...required,
    IMAGE_TAG: 'v7',
    JOBGATE_AUTH: 'google,apikey',
    JOBGATE_API_KEYS_SECRET: 'jobgate-keys',
    INVOKERS: 'user:me@example.com',
    JOBGATE_IDEMPOTENCY: 'firestore',
    JOBGATE_FIRESTORE_DATABASE: 'jobgate-state'
  }
  const dry = world.run(script, vars, ['--dry-run'])
  t.equal(dry.status, 0, 'exits 0', { stderr: dry.stderr })
  t.same(dry.calls, [], 'no gcloud or docker call')
  t.match(dry.stdout, '--no-allow-unauthenticated')
  for (const step of ['gcloud services enable firestore.googleapis.com', 'gcloud firestore databases create --database jobgate-state',
    '| grep -qx FIRESTORE_NATIVE', 'gcloud firestore fields ttls update expireAt', '--role roles/datastore.user']) t.match(dry.stdout, step)
  for (const create of indexCreates('jobgate-idempotency', 'jobgate-state')) {
    t.ok(dry.stdout.includes(`${create} || true  # ALREADY_EXISTS on a later run`), create)
  }
  const replayed = world.runText(dry.stdout)
  t.equal(replayed.status, 0, 'the printed commands run', { stderr: replayed.stderr })
  world.reset()
  const real = world.run(script, vars)
  t.same(replayed.calls, real.calls, 'pasting the printed commands does what the script does')
})

t.test('--help exits 0 and runs nothing', async t => {
  const help = world.run(script, {}, ['--help'])
  t.equal(help.status, 0)
  t.match(help.stdout, /Usage: build-deploy-api\.sh/)
  t.same(help.calls, [])
})
