import t, { type Test } from 'tap'
import { applyRunPolicy, type Caller } from '../../api/policy/run-policy.js'
import { isProtectedEnvName } from '../../api/policy/protected-env.js'
import { testEntry } from '../helpers/catalog-entry.js'

const free: Caller = { name: 'anonymous', tenantFree: true }
const open = testEntry()

/** Asserts the call throws the API's own error with this status and a message matching `message`. */
function rejects (t: Test, fn: () => unknown, status: string, message: RegExp): void {
  t.throws(fn, { name: 'ApiError', status, message }, `${status} ${String(message)}`)
}

t.test('an empty request passes untouched', async t => {
  t.strictSame(applyRunPolicy(open, {}, free), {})
})

t.test('a request within policy passes through unchanged', async t => {
  const request = { args: ['a'], env: { DATE: '2026-01-01', path_like: 'x' }, taskCount: 10_000, timeoutSeconds: 86_400 }
  t.strictSame(applyRunPolicy(open, request, free), request)
})

t.test('protected names are rejected in any case', async t => {
  const protectedNames = [
    'CLOUD_RUN_JOB', 'CLOUD_RUN_TASK_INDEX', 'cloud_run_execution',
    'K_SERVICE', 'k_service', 'K_REVISION',
    'PORT', 'port',
    'GOOGLE_APPLICATION_CREDENTIALS', 'Google_x', 'GOOGLE_CLOUD_PROJECT',
    'NODE_OPTIONS', 'node_options',
    'LD_PRELOAD', 'ld_preload', 'LD_LIBRARY_PATH',
    'PATH', 'Path',
    // Shell start-up files, proxies in any case, runtime options, TLS trust, metadata and emulator hosts, the gcloud SDK (issue 10).
    'BASH_ENV', 'bash_env', 'ENV', 'SHELLOPTS', 'PS4', 'PROMPT_COMMAND', 'HOME', 'ZDOTDIR',
    'HTTPS_PROXY', 'http_proxy', 'Https_Proxy', 'ALL_PROXY', 'NO_PROXY', 'no_proxy', 'FTP_PROXY',
    'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'JDK_JAVA_OPTIONS', 'CLASSPATH', 'PERL5OPT', 'PERL5LIB', 'PYTHONWARNINGS', 'PYTHONSTARTUP',
    'PYTHONPATH', 'pythonpath', 'BROWSER', 'RUBYOPT', 'RUBYLIB', 'NODE_TLS_REJECT_UNAUTHORIZED', 'NODE_EXTRA_CA_CERTS', 'NODE_ENV',
    'NODE_PATH', 'DOTNET_STARTUP_HOOKS', 'CORECLR_PROFILER_PATH', 'GODEBUG', 'PHPRC', 'GIT_SSH_COMMAND', 'GLIBC_TUNABLES', 'GCONV_PATH',
    'SSL_CERT_FILE', 'SSL_CERT_DIR', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'AWS_CA_BUNDLE', 'GRPC_DEFAULT_SSL_ROOTS_FILE_PATH',
    'GCE_METADATA_HOST', 'GCE_METADATA_IP', 'gce_metadata_root', 'STORAGE_EMULATOR_HOST', 'PUBSUB_EMULATOR_HOST', 'FIRESTORE_EMULATOR_HOST',
    'CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN', 'CLOUDSDK_CORE_PROJECT', 'GCLOUD_PROJECT', 'DYLD_INSERT_LIBRARIES',
    // TLS trust in lower case too (a case-sensitive pattern let these through).
    'ssl_cert_file', 'requests_ca_bundle', 'curl_ca_bundle', 'grpc_default_ssl_roots_file_path', 'openssl_conf', 'aws_ca_bundle', 'node_extra_ca_certs',
    // Issue 23: build tools' and runtimes' option variables (run code), tool configuration files (redirect traffic).
    'MAVEN_OPTS', 'GRADLE_OPTS', 'ERL_AFLAGS', 'ERL_ZFLAGS', 'LESSOPEN', 'lessclose', 'MONO_ENV_OPTIONS', 'SBT_OPTS', 'ANT_OPTS', 'JRUBY_OPTS',
    'CATALINA_OPTS', 'WGETRC', 'CURL_HOME', 'BOTO_CONFIG', 'boto_path', 'NETRC'
  ]
  for (const name of protectedNames) {
    t.equal(isProtectedEnvName(name), true, name)
    rejects(t, () => applyRunPolicy(open, { env: { [name]: 'x' } }, free), 'INVALID_ARGUMENT', new RegExp(`^env\\.${name}: protected`))
  }
  // Only the listed names and prefixes: near misses are ordinary names.
  for (const name of ['PORTS', 'MY_PORT', 'KSERVICE', 'CLOUD_RUNNER', 'GOOGLEX', 'LDX', 'PATHS', 'MYPATH', 'ENVIRONMENT', 'MY_ENV', 'HOMEPAGE', 'PROXYLESS', 'REPORT_DATE', 'TENANT_ID',
    'LESSON', 'MONOLITH', 'ERLANG_COOKIE_NAME', 'REPORT_OPTIONS', 'CURL_HOMEPAGE']) {
    t.equal(isProtectedEnvName(name), false, `${name} is not protected`)
  }
})

t.test('protected names are rejected even when env.allow lists them', async t => {
  const entry = testEntry({ env: { allow: ['PATH', 'LD_*'] } })
  rejects(t, () => applyRunPolicy(entry, { env: { PATH: '/tmp' } }, free), 'INVALID_ARGUMENT', /protected/)
  rejects(t, () => applyRunPolicy(entry, { env: { LD_PRELOAD: '/tmp/x.so' } }, free), 'INVALID_ARGUMENT', /protected/)
})

t.test('env.allow: exact names and NAME_* prefixes', async t => {
  const entry = testEntry({ env: { allow: ['DATE', 'REPORT_*'] } })
  t.ok(applyRunPolicy(entry, { env: { DATE: 'x', REPORT_: 'y', REPORT_FORMAT: 'z' } }, free))
  rejects(t, () => applyRunPolicy(entry, { env: { DATES: 'x' } }, free), 'INVALID_ARGUMENT', /^env\.DATES: not allowed for job "echo" \(allowed: DATE, REPORT_\*\)$/)
  rejects(t, () => applyRunPolicy(entry, { env: { date: 'x' } }, free), 'INVALID_ARGUMENT', /not allowed/)
  rejects(t, () => applyRunPolicy(entry, { env: { REPORT: 'x' } }, free), 'INVALID_ARGUMENT', /not allowed/)
  const none = testEntry({ env: { allow: [] } })
  rejects(t, () => applyRunPolicy(none, { env: { A: 'x' } }, free), 'INVALID_ARGUMENT', /\(allowed: none\)/)
})

t.test('the tenant key is exempt from env.allow', async t => {
  const entry = testEntry({ env: { allow: ['DATE'], tenantKey: 'TENANT_ID' } })
  t.strictSame(applyRunPolicy(entry, { env: { TENANT_ID: 'acme', DATE: 'd' } }, free).env, { TENANT_ID: 'acme', DATE: 'd' })
})

t.test('args: allowed or not, max items, clearArgs', async t => {
  const closed = testEntry({ args: { allow: false } })
  rejects(t, () => applyRunPolicy(closed, { args: ['x'] }, free), 'INVALID_ARGUMENT', /^args: job "echo" does not accept args$/)
  rejects(t, () => applyRunPolicy(closed, { clearArgs: true }, free), 'INVALID_ARGUMENT', /does not accept args/)
  t.strictSame(applyRunPolicy(closed, { args: [], taskCount: 2 }, free), { args: [], taskCount: 2 }, 'empty args are not args')

  const two = testEntry({ args: { maxItems: 2 } })
  t.ok(applyRunPolicy(two, { args: ['a', 'b'] }, free))
  rejects(t, () => applyRunPolicy(two, { args: ['a', 'b', 'c'] }, free), 'INVALID_ARGUMENT', /^args: 3 items; job "echo" accepts at most 2$/)
  rejects(t, () => applyRunPolicy(open, { args: new Array<string>(101).fill('a') }, free), 'INVALID_ARGUMENT', /at most 100/)

  rejects(t, () => applyRunPolicy(open, { clearArgs: true, args: ['a'] }, free), 'INVALID_ARGUMENT', /^clearArgs: cannot be combined with non-empty args$/)
  t.ok(applyRunPolicy(open, { clearArgs: true, args: [] }, free))
  t.ok(applyRunPolicy(open, { clearArgs: true }, free))
})

t.test('taskCount and timeoutSeconds limits', async t => {
  const entry = testEntry({ maxTaskCount: 5, maxTimeoutSeconds: 60 })
  t.ok(applyRunPolicy(entry, { taskCount: 5, timeoutSeconds: 60 }, free))
  rejects(t, () => applyRunPolicy(entry, { taskCount: 6 }, free), 'INVALID_ARGUMENT', /^taskCount: 6 exceeds job "echo"'s limit of 5$/)
  rejects(t, () => applyRunPolicy(entry, { timeoutSeconds: 61 }, free), 'INVALID_ARGUMENT', /^timeoutSeconds: 61 exceeds job "echo"'s limit of 60$/)
  rejects(t, () => applyRunPolicy(open, { taskCount: 10_001 }, free), 'INVALID_ARGUMENT', /limit of 10000/)
  rejects(t, () => applyRunPolicy(open, { timeoutSeconds: 86_401 }, free), 'INVALID_ARGUMENT', /limit of 86400/)
})

t.test('a letter-case variant of the tenant key is 403 for every caller, listed in env.allow or not', async t => {
  const entry = testEntry({ env: { allow: ['*'], tenantKey: 'TENANT_ID' } })
  const callers: Caller[] = [{ name: 'ci-acme', tenant: 'acme' }, free]
  for (const caller of callers) {
    for (const name of ['tenant_id', 'Tenant_Id', 'TENANT_iD']) {
      rejects(t, () => applyRunPolicy(entry, { env: { TENANT_ID: 'acme', [name]: 'globex' } }, caller), 'PERMISSION_DENIED', new RegExp(`^env\\.${name}: a letter-case variant of job "echo"'s tenant key TENANT_ID`))
      rejects(t, () => applyRunPolicy(entry, { env: { [name]: 'acme' } }, caller), 'PERMISSION_DENIED', /letter-case variant/)
    }
  }
  t.ok(applyRunPolicy(entry, { env: { TENANT_ID: 'acme', TENANT_IDS: 'x' } }, free), 'a longer name is another variable')
})

t.test('tenant scope', async t => {
  const entry = testEntry({ env: { tenantKey: 'TENANT_ID' } })
  const bound: Caller = { name: 'ci-acme', tenant: 'acme' }

  t.strictSame(applyRunPolicy(entry, {}, bound), { env: { TENANT_ID: 'acme' } }, 'a bound caller gets its tenant injected')
  t.strictSame(applyRunPolicy(entry, { env: { TENANT_ID: 'acme', A: '1' } }, bound).env, { TENANT_ID: 'acme', A: '1' }, 'its own tenant is fine')
  rejects(t, () => applyRunPolicy(entry, { env: { TENANT_ID: 'globex' } }, bound), 'PERMISSION_DENIED', /^env\.TENANT_ID: ci-acme may only run job "echo" for its own tenant$/)
  rejects(t, () => applyRunPolicy(entry, { env: { TENANT_ID: '' } }, bound), 'PERMISSION_DENIED', /own tenant/)

  const unbound: Caller = { name: 'someone' }
  rejects(t, () => applyRunPolicy(entry, { env: { TENANT_ID: 'acme' } }, unbound), 'PERMISSION_DENIED', /^job "echo" is tenant-scoped and someone is bound to no tenant$/)
  rejects(t, () => applyRunPolicy(entry, {}, { name: 'x', tenantFree: false }), 'PERMISSION_DENIED', /bound to no tenant/)

  t.strictSame(applyRunPolicy(entry, { env: { TENANT_ID: 'globex' } }, free).env, { TENANT_ID: 'globex' }, 'a tenant-free caller picks any tenant')
  rejects(t, () => applyRunPolicy(entry, {}, free), 'INVALID_ARGUMENT', /^env\.TENANT_ID: required, job "echo" is tenant-scoped$/)
  rejects(t, () => applyRunPolicy(entry, { env: { TENANT_ID: '' } }, free), 'INVALID_ARGUMENT', /required/)
  rejects(t, () => applyRunPolicy(entry, { env: { OTHER: 'x' } }, free), 'INVALID_ARGUMENT', /required/)

  t.strictSame(applyRunPolicy(open, { env: { TENANT_ID: 'x' } }, bound).env, { TENANT_ID: 'x' }, 'jobs without a tenant key ignore tenancy')
})

t.test('policy does not mutate the caller\'s request', async t => {
  const entry = testEntry({ env: { tenantKey: 'TENANT_ID' } })
  const request = { env: { A: '1' } }
  applyRunPolicy(entry, request, { name: 'b', tenant: 't' })
  t.strictSame(request, { env: { A: '1' } })
})
