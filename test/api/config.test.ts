import { spawn } from 'node:child_process'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { DEFAULT_MAX_ARGS, DEFAULT_MAX_TIMEOUT_SECONDS, loadCatalog, parseCatalog } from '../../api/catalog.js'
import { ConfigError } from '../../api/config-error.js'
import { LOCAL_PROJECT, loadConfig } from '../../api/config.js'
import { listenError } from '../../api/listen-error.js'

const CLOUD = { JOBGATE_MODE: 'cloud', JOBGATE_AUTH: 'none', JOBGATE_ALLOW_UNAUTHENTICATED: 'true', GOOGLE_CLOUD_PROJECT: 'my-project', JOBGATE_JOBS: '{"jobs":{"echo":{}}}' }

/** Asserts loadConfig refuses `env` with a ConfigError naming `variable`, its message matching `problem`. */
function refuses (t: Test, env: NodeJS.ProcessEnv, variable: string, problem: RegExp): void {
  t.throws(() => loadConfig(env), { name: 'ConfigError', variable, message: problem }, `${variable} ${String(problem)}`)
}

t.test('an empty environment is local mode with every default', async t => {
  const config = loadConfig({})
  t.equal(config.mode, 'local')
  t.equal(config.port, 8080)
  t.equal(config.host, '127.0.0.1')
  t.equal(config.project, LOCAL_PROJECT)
  t.equal(config.region, 'us-central1')
  t.equal(config.runApiEndpoint, undefined)
  t.notOk(Object.hasOwn(config, 'runApiEndpoint'))
  t.equal(config.loggingApiEndpoint, 'https://logging.googleapis.com')
  t.same(config.auth.modes, [])
  t.equal(config.logLevel, 'info')
  t.same([...config.catalog.keys()], ['echo'], 'local mode runs the companion echo job')
  const echo = config.catalog.get('echo')
  t.match(echo, { id: 'echo', project: LOCAL_PROJECT, region: 'us-central1', job: 'echo', env: {}, args: { allow: true } })
  t.equal(echo?.env.allow, undefined, 'any env name that is not protected')
})

t.test('empty strings count as unset', async t => {
  const config = loadConfig({ PORT: '', HOST: '', JOBGATE_MODE: '', CLOUD_RUN_REGION: '', LOG_LEVEL: '', JOBGATE_JOBS: '', JOBGATE_JOBS_FILE: '', JOBGATE_AUTH: '', CLOUD_RUN_API_ENDPOINT: '', GCE_METADATA_HOST: '' })
  t.equal(config.mode, 'local')
  t.equal(config.port, 8080)
  t.equal(config.region, 'us-central1')
})

t.test('JOBGATE_MODE: explicit, or cloud on Cloud Run (K_SERVICE); GOOGLE_CLOUD_PROJECT alone stays local', async t => {
  t.equal(loadConfig({ JOBGATE_MODE: 'local' }).mode, 'local')
  t.equal(loadConfig({ JOBGATE_MODE: 'local', GOOGLE_CLOUD_PROJECT: 'my-project' }).mode, 'local', 'explicit wins')
  t.equal(loadConfig({ ...CLOUD }).mode, 'cloud')
  // Cloud Shell sets GOOGLE_CLOUD_PROJECT in every shell: `npm start` there must still be local mode, as that project.
  const shell = loadConfig({ GOOGLE_CLOUD_PROJECT: 'my-project-1' })
  t.equal(shell.mode, 'local', 'not inferred from GOOGLE_CLOUD_PROJECT')
  t.equal(shell.project, 'my-project-1')
  t.equal(shell.catalog.get('echo')?.project, 'my-project-1', 'the echo job lives in that project')
  refuses(t, { K_SERVICE: 'jobgate' }, 'JOBGATE_JOBS', /no job catalog/)
  t.equal(loadConfig({ K_SERVICE: 'jobgate', JOBGATE_AUTH: 'none', JOBGATE_ALLOW_UNAUTHENTICATED: 'true', JOBGATE_JOBS: '{"jobs":{"echo":{"project":"other-project"}}}' }).mode, 'cloud', 'inferred from K_SERVICE')
  refuses(t, { JOBGATE_MODE: 'remote' }, 'JOBGATE_MODE', /^JOBGATE_MODE: must be "local" or "cloud", not "remote"$/)
  refuses(t, { JOBGATE_MODE: 'CLOUD' }, 'JOBGATE_MODE', /must be/)
})

t.test('HOST: 0.0.0.0 on Cloud Run, loopback elsewhere, or as set', async t => {
  const exposed = { JOBGATE_ALLOW_UNAUTHENTICATED: 'true' }
  t.equal(loadConfig({ K_SERVICE: 'jobgate', JOBGATE_MODE: 'local', ...exposed }).host, '0.0.0.0')
  t.equal(loadConfig({}).host, '127.0.0.1')
  t.equal(loadConfig({ HOST: '::1' }).host, '::1')
  t.equal(loadConfig({ HOST: '10.0.0.1', K_SERVICE: 'x', JOBGATE_MODE: 'local', ...exposed }).host, '10.0.0.1')
})

t.test('issue 23 finding 5: local mode without authentication listens beyond loopback only when told to', async t => {
  for (const host of ['0.0.0.0', '::', '192.168.1.20', 'my-laptop.example']) {
    refuses(t, { HOST: host }, 'HOST', /would let anyone who can reach this machine start jobs \(local mode, JOBGATE_AUTH=none\): listen on 127.0.0.1, turn authentication on, or set JOBGATE_ALLOW_UNAUTHENTICATED=true$/)
    t.equal(loadConfig({ HOST: host, JOBGATE_ALLOW_UNAUTHENTICATED: 'true' }).host, host, `${host} with the opt-in`)
  }
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST']) t.equal(loadConfig({ HOST: host }).host, host, `${host}: loopback`)
  const keys = JSON.stringify({ keys: [{ sha256: 'a'.repeat(64), principal: 'ci' }] })
  t.equal(loadConfig({ HOST: '0.0.0.0', JOBGATE_AUTH: 'apikey', JOBGATE_API_KEYS: keys }).host, '0.0.0.0', 'with authentication on, any address')
})

t.test('PORT', async t => {
  t.equal(loadConfig({ PORT: '0' }).port, 0)
  t.equal(loadConfig({ PORT: '65535' }).port, 65535)
  t.equal(loadConfig({ PORT: '3000' }).port, 3000)
  for (const bad of ['abc', '-1', '65536', '80.5', ' 80', '0x50', '1e3']) refuses(t, { PORT: bad }, 'PORT', /must be a whole number from 0 to 65535, not "/)
})

t.test('JOBGATE_AUTH: required in cloud mode; its details are test/auth/config.test.ts\'s', async t => {
  refuses(t, { ...CLOUD, JOBGATE_AUTH: undefined }, 'JOBGATE_AUTH', /cloud mode/)
  refuses(t, { ...CLOUD, JOBGATE_AUTH: '' }, 'JOBGATE_AUTH', /cloud mode/)
  refuses(t, { ...CLOUD, JOBGATE_ALLOW_UNAUTHENTICATED: undefined }, 'JOBGATE_AUTH', /JOBGATE_ALLOW_UNAUTHENTICATED/)
  t.same(loadConfig({ ...CLOUD, JOBGATE_AUTH: 'none' }).auth.modes, [])
  t.same(loadConfig({ ...CLOUD, JOBGATE_AUTH: 'google', JOBGATE_AUDIENCE: 'https://jobgate.example' }).auth.modes, ['google'])
  refuses(t, { ...CLOUD, JOBGATE_AUTH: 'basic' }, 'JOBGATE_AUTH', /basic/)
})

t.test('GOOGLE_CLOUD_PROJECT and CLOUD_RUN_REGION are the catalog\'s defaults', async t => {
  const config = loadConfig({ ...CLOUD, CLOUD_RUN_REGION: 'europe-west1', JOBGATE_JOBS: '{"jobs":{"echo":{},"other":{"project":"other-project","region":"asia-east1","job":"other-job"}}}' })
  t.equal(config.project, 'my-project')
  t.equal(config.region, 'europe-west1')
  t.match(config.catalog.get('echo'), { project: 'my-project', region: 'europe-west1', job: 'echo' })
  t.match(config.catalog.get('other'), { project: 'other-project', region: 'asia-east1', job: 'other-job' })
  refuses(t, { CLOUD_RUN_REGION: 'Europe-West1' }, 'CLOUD_RUN_REGION', /not a Cloud Run region/)
  refuses(t, { CLOUD_RUN_REGION: 'europe-west1/x' }, 'CLOUD_RUN_REGION', /not a Cloud Run region/)
})

t.test('a job without a project in cloud mode stops the start', async t => {
  refuses(t, { JOBGATE_MODE: 'cloud', JOBGATE_AUTH: 'none', JOBGATE_ALLOW_UNAUTHENTICATED: 'true', JOBGATE_JOBS: '{"jobs":{"echo":{}}}' }, 'JOBGATE_JOBS', /job "echo" has no project and GOOGLE_CLOUD_PROJECT is not set/)
  const config = loadConfig({ JOBGATE_MODE: 'cloud', JOBGATE_AUTH: 'none', JOBGATE_ALLOW_UNAUTHENTICATED: 'true', JOBGATE_JOBS: '{"jobs":{"echo":{"project":"my-project"}}}' })
  t.equal(config.project, undefined)
  t.notOk(Object.hasOwn(config, 'project'))
})

t.test('CLOUD_RUN_API_ENDPOINT and CLOUD_LOGGING_API_ENDPOINT', async t => {
  const config = loadConfig({ CLOUD_RUN_API_ENDPOINT: 'http://127.0.0.1:9999/', CLOUD_LOGGING_API_ENDPOINT: 'https://logging.example.com/base//' })
  t.equal(config.runApiEndpoint, 'http://127.0.0.1:9999', 'trailing slash dropped')
  t.equal(config.loggingApiEndpoint, 'https://logging.example.com/base')
  for (const variable of ['CLOUD_RUN_API_ENDPOINT', 'CLOUD_LOGGING_API_ENDPOINT']) {
    refuses(t, { [variable]: 'not a url' }, variable, /is not a URL/)
    refuses(t, { [variable]: 'ftp://example.com' }, variable, /must be an http\(s\) URL/)
    refuses(t, { [variable]: 'https://example.com/?x=1' }, variable, /must not have a query or fragment/)
    refuses(t, { [variable]: 'https://example.com/#x' }, variable, /must not have a query or fragment/)
  }
})

t.test('GCE_METADATA_HOST', async t => {
  for (const ok of ['127.0.0.1:8081', 'metadata.google.internal', '[::1]:80', 'localhost']) t.ok(loadConfig({ GCE_METADATA_HOST: ok }), ok)
  for (const bad of ['http://127.0.0.1:8081', '127.0.0.1:80/x', 'a b', '127.0.0.1:']) refuses(t, { GCE_METADATA_HOST: bad }, 'GCE_METADATA_HOST', /must be host or host:port/)
})

t.test('LOG_LEVEL', async t => {
  for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) t.equal(loadConfig({ LOG_LEVEL: level }).logLevel, level)
  refuses(t, { LOG_LEVEL: 'verbose' }, 'LOG_LEVEL', /must be one of "fatal", "error", .*, not "verbose"$/)
  refuses(t, { LOG_LEVEL: 'INFO' }, 'LOG_LEVEL', /must be one of/)
})

t.test('JOBGATE_JOBS: valid catalogs and every default', async t => {
  const minimal = loadConfig({ ...CLOUD, JOBGATE_JOBS: '{"jobs":{"echo":{}}}' }).catalog.get('echo')
  t.strictSame(minimal, {
    id: 'echo',
    project: 'my-project',
    region: 'us-central1',
    job: 'echo',
    env: {},
    args: { allow: true, maxItems: DEFAULT_MAX_ARGS },
    maxTaskCount: 10_000,
    maxTimeoutSeconds: DEFAULT_MAX_TIMEOUT_SECONDS
  })
  const full = loadConfig({
    ...CLOUD,
    JOBGATE_JOBS: JSON.stringify({
      jobs: {
        echo: {
          description: 'd',
          project: 'p-12345',
          region: 'europe-west1',
          job: 'echo-job',
          container: 'job',
          env: { allow: ['DATE', 'REPORT_*'], tenantKey: 'TENANT_ID' },
          args: { allow: false, maxItems: 20 },
          maxTaskCount: 100,
          maxTimeoutSeconds: 3600,
          principals: ['*@example.com']
        }
      }
    })
  }).catalog.get('echo')
  t.strictSame(full, {
    id: 'echo',
    project: 'p-12345',
    region: 'europe-west1',
    job: 'echo-job',
    env: { allow: ['DATE', 'REPORT_*'], tenantKey: 'TENANT_ID' },
    args: { allow: false, maxItems: 20 },
    maxTaskCount: 100,
    maxTimeoutSeconds: 3600,
    container: 'job',
    description: 'd',
    principals: ['*@example.com']
  })
  t.equal(loadConfig({ ...CLOUD, JOBGATE_JOBS: '{"jobs":{}}' }).catalog.size, 0, 'an empty catalog is valid (nothing can run)')
  t.equal(loadConfig({ ...CLOUD, JOBGATE_JOBS: '{"jobs":{"a":{"project":"123456"}}}' }).catalog.get('a')?.project, '123456', 'numeric project ids')
})

t.test('JOBGATE_JOBS: errors name the variable and the place', async t => {
  refuses(t, { ...CLOUD, JOBGATE_JOBS: '{"jobs":' }, 'JOBGATE_JOBS', /^JOBGATE_JOBS: not valid JSON \(/)
  refuses(t, { ...CLOUD, JOBGATE_JOBS: '[]' }, 'JOBGATE_JOBS', /invalid catalog at \//)
  refuses(t, { ...CLOUD, JOBGATE_JOBS: '{}' }, 'JOBGATE_JOBS', /invalid catalog/)
  refuses(t, { ...CLOUD, JOBGATE_JOBS: '{"jobs":{},"extra":1}' }, 'JOBGATE_JOBS', /invalid catalog/)
  refuses(t, { ...CLOUD, JOBGATE_JOBS: '{"jobs":{"echo":{"colour":"red"}}}' }, 'JOBGATE_JOBS', /invalid catalog at \/jobs\/echo/)
  refuses(t, { ...CLOUD, JOBGATE_JOBS: '{"jobs":{"echo":{"maxTaskCount":0}}}' }, 'JOBGATE_JOBS', /\/jobs\/echo\/maxTaskCount/)
  refuses(t, { ...CLOUD, JOBGATE_JOBS: '{"jobs":{"echo":{"maxTimeoutSeconds":604801}}}' }, 'JOBGATE_JOBS', /maxTimeoutSeconds/)
  refuses(t, { ...CLOUD, JOBGATE_JOBS: '{"jobs":{"echo":{"env":{"allow":["A-B"]}}}}' }, 'JOBGATE_JOBS', /\/jobs\/echo\/env\/allow\/0/)
  refuses(t, { ...CLOUD, JOBGATE_JOBS: '{"jobs":{"echo":{"env":{"tenantKey":"1X"}}}}' }, 'JOBGATE_JOBS', /tenantKey/)
  refuses(t, { ...CLOUD, JOBGATE_JOBS: '{"jobs":{"echo":{"args":{"allow":"yes"}}}}' }, 'JOBGATE_JOBS', /\/jobs\/echo\/args\/allow/)
  refuses(t, { ...CLOUD, JOBGATE_JOBS: '{"jobs":{"echo":{"job":"Echo_Job"}}}' }, 'JOBGATE_JOBS', /\/jobs\/echo\/job/)
  refuses(t, { ...CLOUD, JOBGATE_JOBS: '{"jobs":{"echo":{"region":"mars"}}}' }, 'JOBGATE_JOBS', /region/)
  refuses(t, { ...CLOUD, JOBGATE_JOBS: '{"jobs":{"echo":{"project":"My Project"}}}' }, 'JOBGATE_JOBS', /project/)
  refuses(t, { ...CLOUD, JOBGATE_JOBS: '{"jobs":{"echo":{"container":"-bad"}}}' }, 'JOBGATE_JOBS', /container/)
  // Issue 10: an "open" alias of a tenant-scoped job would read every tenant's runs and logs.
  const aliases = { jobs: { reports: { job: 'reports-job', env: { tenantKey: 'TENANT_ID' }, principals: ['acme-ci'] }, open: { job: 'reports-job', principals: ['*'] } } }
  refuses(t, { ...CLOUD, JOBGATE_JOBS: JSON.stringify(aliases) }, 'JOBGATE_JOBS',
    /^JOBGATE_JOBS: jobs "reports" and "open" are the same Cloud Run job \(job "reports-job" in region us-central1, project "my-project"\)/)
  refuses(t, { ...CLOUD, JOBGATE_JOBS: '{"jobs":{"echo":{},"other":{"job":"echo"}}}' }, 'JOBGATE_JOBS', /jobs "echo" and "other" are the same Cloud Run job/)
  t.equal(loadConfig({ ...CLOUD, JOBGATE_JOBS: '{"jobs":{"a":{"job":"x"},"b":{"job":"x","region":"europe-west1"},"c":{"job":"x","project":"other-project"}}}' }).catalog.size, 3,
    'the same job name in another region or project is another job')
  for (const id of ['Echo', 'echo_job', '1echo', 'echo-', 'a'.repeat(64), '../x']) {
    refuses(t, { ...CLOUD, JOBGATE_JOBS: JSON.stringify({ jobs: { [id]: {} } }) }, 'JOBGATE_JOBS', /job id ".*" must be lowercase letters, digits and hyphens/)
  }
})

t.test('issue 23 finding 1: no two entries reach one Cloud Run job under any spelling (project id or number, letter case, region)', async t => {
  const scoped = { job: 'echo', env: { tenantKey: 'TENANT_ID' }, principals: ['acme-ci'] }
  const jobs = (alias: Record<string, unknown>): string => JSON.stringify({ jobs: { echo: scoped, alias: { job: 'echo', env: { allow: ['ECHO_*'] }, principals: ['*'], ...alias } } })
  // The review's catalog: the project's number beside its id. jobgate cannot tell at start whether they are one project.
  refuses(t, { ...CLOUD, JOBGATE_JOBS: jobs({ project: '123456789012' }) }, 'JOBGATE_JOBS',
    /jobs "echo" and "alias" are possibly the same Cloud Run job \(job "echo" in region us-central1; project "my-project" and "123456789012" may be one project's id and number\)/)
  refuses(t, { ...CLOUD, GOOGLE_CLOUD_PROJECT: '123456789012', JOBGATE_JOBS: jobs({ project: 'my-project' }) }, 'JOBGATE_JOBS', /possibly the same Cloud Run job/)
  refuses(t, { ...CLOUD, GOOGLE_CLOUD_PROJECT: '123456789012', JOBGATE_JOBS: jobs({ project: '0123456789012' }) }, 'JOBGATE_JOBS', /are the same Cloud Run job/)
  refuses(t, { ...CLOUD, GOOGLE_CLOUD_PROJECT: 'My-Project', JOBGATE_JOBS: jobs({ project: 'my-project' }) }, 'JOBGATE_JOBS', /are the same Cloud Run job/)
  // One endpoint for every region (CLOUD_RUN_API_ENDPOINT, or local mode's emulator): the region tells nothing apart.
  const otherRegion = jobs({ region: 'europe-west1' })
  t.equal(loadConfig({ ...CLOUD, JOBGATE_JOBS: otherRegion }).catalog.size, 2, 'on the regional hosts, another region is another job')
  refuses(t, { ...CLOUD, CLOUD_RUN_API_ENDPOINT: 'https://europe-west1-run.googleapis.com', JOBGATE_JOBS: otherRegion }, 'JOBGATE_JOBS', /one endpoint serves every region/)
  refuses(t, { JOBGATE_MODE: 'local', JOBGATE_JOBS: otherRegion }, 'JOBGATE_JOBS', /one endpoint serves every region/)
  t.equal(loadConfig({ ...CLOUD, JOBGATE_JOBS: jobs({ project: '999999999999', job: 'echo' }).replace('"echo":{"job":"echo"', '"echo":{"job":"echo","project":"123456789012"') }).catalog.size, 2,
    'two numbers are two projects')
  t.equal(loadConfig({ ...CLOUD, JOBGATE_JOBS: jobs({ project: 'other-project' }) }).catalog.size, 2, 'two ids are two projects')
})

t.test('JOBGATE_JOBS_FILE, the catalog as a file instead of JOBGATE_JOBS', async t => {
  const dir = t.testdir({
    'jobs.json': JSON.stringify({ jobs: { 'from-file': { job: 'file-job' } } }),
    'bad.json': '{"jobs": nope',
    'schema.json': '{"jobs":{"x":{"maxTaskCount":"many"}}}'
  })
  const config = loadConfig({ ...CLOUD, JOBGATE_JOBS: undefined, JOBGATE_JOBS_FILE: join(dir, 'jobs.json') })
  t.same([...config.catalog.keys()], ['from-file'])
  t.equal(config.catalog.get('from-file')?.job, 'file-job')
  // Both set: neither silently wins (it used to be JOBGATE_JOBS), the start stops naming both.
  refuses(t, { ...CLOUD, JOBGATE_JOBS_FILE: join(dir, 'jobs.json') }, 'JOBGATE_JOBS', /^JOBGATE_JOBS: set either JOBGATE_JOBS or JOBGATE_JOBS_FILE, not both$/)
  refuses(t, { JOBGATE_JOBS: '{"jobs":{}}', JOBGATE_JOBS_FILE: join(dir, 'missing.json') }, 'JOBGATE_JOBS', /not both/)
  t.same([...loadConfig({ ...CLOUD, JOBGATE_JOBS: '  ', JOBGATE_JOBS_FILE: join(dir, 'jobs.json') }).catalog.keys()], ['from-file'], 'a blank JOBGATE_JOBS is not set')
  refuses(t, { ...CLOUD, JOBGATE_JOBS: undefined, JOBGATE_JOBS_FILE: join(dir, 'bad.json') }, 'JOBGATE_JOBS_FILE', /not valid JSON/)
  refuses(t, { ...CLOUD, JOBGATE_JOBS: undefined, JOBGATE_JOBS_FILE: join(dir, 'schema.json') }, 'JOBGATE_JOBS_FILE', /\/jobs\/x\/maxTaskCount/)
  refuses(t, { ...CLOUD, JOBGATE_JOBS: undefined, JOBGATE_JOBS_FILE: join(dir, 'missing.json') }, 'JOBGATE_JOBS_FILE', /cannot read .*missing\.json \(ENOENT\)/)
  refuses(t, { ...CLOUD, JOBGATE_JOBS: undefined, JOBGATE_JOBS_FILE: dir }, 'JOBGATE_JOBS_FILE', /cannot read .* \(EISDIR\)/)
  t.same([...loadConfig({ JOBGATE_JOBS_FILE: join(dir, 'jobs.json') }).catalog.keys()], ['from-file'], 'local mode reads the file too')
})

t.test('no catalog in cloud mode stops the start', async t => {
  refuses(t, { ...CLOUD, JOBGATE_JOBS: undefined }, 'JOBGATE_JOBS', /no job catalog: set JOBGATE_JOBS \(JSON\) or JOBGATE_JOBS_FILE \(path\)/)
})

t.test('loadCatalog / parseCatalog directly', async t => {
  t.throws(() => loadCatalog({}, { region: 'us-central1' }), { name: 'ConfigError', variable: 'JOBGATE_JOBS' })
  t.equal(loadCatalog({}, { project: 'my-project', region: 'us-central1' }, '{"jobs":{"a":{}}}').get('a')?.project, 'my-project')
  const err = new ConfigError('X', 'bad')
  t.equal(err.message, 'X: bad')
  t.throws(() => parseCatalog('null', 'SOME_VAR', { region: 'us-central1' }), { variable: 'SOME_VAR', message: /^SOME_VAR: invalid catalog at \// })
})

t.test('loadConfig reads process.env by default', async t => {
  t.equal(loadConfig().port, loadConfig(process.env).port)
})

/** Runs `node script` with exactly `env` and collects how it ended. */
async function runToExit (
  script: string,
  env: NodeJS.ProcessEnv
): Promise<{ status: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [script], { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 15_000 })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  return await new Promise(resolve =>
    child.on('close', (status, signal) => {
      resolve({ status, signal, stdout, stderr })
    })
  )
}

t.test('the built server refuses a bad setting with one stderr line naming it', async t => {
  const server = new URL('../../dist/api/server.js', import.meta.url).pathname
  const jobsFile = join(t.testdir({ 'jobs.json': '{"jobs":{"echo":{}}}' }), 'jobs.json')
  const cases: Array<[Record<string, string>, string, string]> = [
    [{ PORT: 'eighty' }, 'PORT', 'must be a whole number from 0 to 65535, not "eighty"'],
    [{ JOBGATE_MODE: 'cloud', GOOGLE_CLOUD_PROJECT: 'my-project', JOBGATE_JOBS: '{"jobs":{"echo":{}}}' }, 'JOBGATE_AUTH', 'required in cloud mode'],
    [{ JOBGATE_JOBS: '{"jobs":{"echo":{}}}', JOBGATE_JOBS_FILE: jobsFile }, 'JOBGATE_JOBS', 'set either JOBGATE_JOBS or JOBGATE_JOBS_FILE, not both'],
    [{ JOBGATE_EVENTS_TOPIC: 'run-events' }, 'JOBGATE_EVENTS_TOPIC', 'must be projects/PROJECT/topics/TOPIC']
  ]
  // In parallel: each start loads the whole server before it reads its settings.
  const results = await Promise.all(cases.map(async ([env]) => await runToExit(server, { PATH: process.env.PATH ?? '', ...env })))
  for (const [index, [, variable, problem]] of cases.entries()) {
    const result = results[index]
    if (result === undefined) throw new Error('unreachable')
    t.equal(result.status, 78, `${variable}: exits 78 (EX_CONFIG)`)
    t.equal(result.signal, null)
    const lines = result.stderr.split('\n').filter(line => line !== '')
    t.equal(lines.length, 1, `${variable}: exactly one stderr line (${JSON.stringify(result.stderr)})`)
    t.ok(lines[0]?.startsWith(`jobgate: configuration error: ${variable}: ${problem}`), `${variable}: ${String(lines[0])}`)
    t.equal(result.stdout, '', 'nothing logged: it never started')
  }
})

t.test('the built server on a port in use: one stderr line naming PORT, exit 78', async t => {
  const holder = createServer()
  await new Promise<void>(resolve => holder.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { holder.close() })
  const port = (holder.address() as AddressInfo).port
  const server = new URL('../../dist/api/server.js', import.meta.url).pathname
  const result = await runToExit(server, { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port) })
  t.equal(result.status, 78)
  t.same(result.stderr.split('\n').filter(line => line !== ''),
    [`jobgate: configuration error: PORT: ${port} on 127.0.0.1 is in use by another process; stop it, or set PORT to a free port`])
})

t.test('listenError names the setting behind a socket that cannot be opened, and passes other errors on', async t => {
  const failure = (code: string): Error => Object.assign(new Error(code), { code })
  t.match(listenError(failure('EACCES'), '0.0.0.0', 80), { variable: 'PORT', message: 'PORT: 80 on 0.0.0.0 needs privileges this process lacks; set PORT to 1024 or above' })
  t.match(listenError(failure('EADDRNOTAVAIL'), '10.9.8.7', 8080), { variable: 'HOST', message: 'HOST: 10.9.8.7 is not an address of this machine' })
  const other = failure('EMFILE')
  t.equal(listenError(other, '127.0.0.1', 8080), other)
  t.equal(listenError(undefined, '127.0.0.1', 8080), undefined)
})
