import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { AuthUnavailableError, audienceOf, googleIdTokenSource, resolveCredentials, silenceMetadataLookupWarnings } from '../../cli/auth.js'
import { startWorkloadIdentityStandIn } from '../helpers/wif-standin.js'
import { startFakeApi } from './fake-api.js'
import { noGoogle, runCli } from './helpers.js'

const remote = new URL('https://jobgate-abc-ew.a.run.app/some/path')
const fakeJwt = (claims: object): string => ['{"alg":"none"}', JSON.stringify(claims), 'sig'].map(part => Buffer.from(part).toString('base64url')).join('.')

t.test('an API key wins, then JOBGATE_ID_TOKEN, then Google; the audience is the origin', async t => {
  const asked: string[] = []
  const google = async (audience: string): Promise<string> => { asked.push(audience); return `token-for-${audience}` }
  const key = await resolveCredentials({ env: { JOBGATE_API_KEY: 'k1', JOBGATE_ID_TOKEN: 'x' }, url: remote, idTokenSource: google })
  t.equal(key.kind, 'api-key')
  t.same(await key.headers(), { 'x-api-key': 'k1' })
  const given = await resolveCredentials({ env: { JOBGATE_API_KEY: '', JOBGATE_ID_TOKEN: 'tok' }, url: remote, idTokenSource: google })
  t.same(await given.headers(), { authorization: 'Bearer tok' })
  t.same(asked, [], 'Google is not asked when a credential was given')
  const adc = await resolveCredentials({ env: {}, url: remote, idTokenSource: google })
  t.equal(adc.kind, 'google')
  t.same(await adc.headers(), { authorization: 'Bearer token-for-https://jobgate-abc-ew.a.run.app' })
  t.same(asked, ['https://jobgate-abc-ew.a.run.app', 'https://jobgate-abc-ew.a.run.app'], 'checked once up front, then per request (the library refreshes)')
  t.equal(audienceOf(new URL('http://127.0.0.1:8080/x')), 'http://127.0.0.1:8080')
})

t.test('no credentials for a remote API: a clear message naming both options', async t => {
  const error = await resolveCredentials({ env: {}, url: remote, idTokenSource: noGoogle }).catch(e => e)
  t.type(error, AuthUnavailableError)
  t.match(error.message, 'no credentials for https://jobgate-abc-ew.a.run.app: Could not load the default credentials.')
  t.match(error.message, 'set JOBGATE_API_KEY')
  t.match(error.message, 'Google credentials that can mint an ID token')
  const federated = await resolveCredentials({
    env: {}, url: remote, idTokenSource: async () => { throw new Error('Cannot fetch ID token in this environment, use GCE or set the GOOGLE_APPLICATION_CREDENTIALS') }
  }).catch(e => e)
  t.match(federated.message, 'google-github-actions/auth a service_account, or use its token_format: id_token')
  const odd = await resolveCredentials({ env: {}, url: remote, idTokenSource: async () => { throw 'a string' } }).catch(e => e)
  t.match(odd.message, ': a string')

  const cli = await runCli(['run', 'migrate', '--wait'], remote.href)
  t.equal(cli.code, 5)
  t.match(cli.stderr, /^jobgate: no credentials for https:\/\/jobgate-abc-ew\.a\.run\.app/)
})

t.test('a local API without Google credentials is called without any (local mode runs with auth off)', async t => {
  const local = await resolveCredentials({ env: {}, url: new URL('http://localhost:8080'), idTokenSource: noGoogle })
  t.equal(local.kind, 'none')
  t.same(await local.headers(), {})
  const api = await startFakeApi({ apiKey: 'k' })
  t.teardown(() => api.close())
  const { code, stderr } = await runCli(['jobs'], api.url)
  t.equal(code, 5)
  t.match(stderr, 'UNAUTHENTICATED 401: missing credentials: send X-API-Key or a Google ID token')
  t.match(stderr, 'sent no credentials (neither JOBGATE_API_KEY nor Google credentials were found)')
})

t.test('Google ID tokens travel as Bearer; a rejected one exits 5 without printing it', async t => {
  const api = await startFakeApi({ bearerToken: 'good-token' })
  t.teardown(() => api.close())
  const ok = await runCli(['run', 'echo', '--wait'], api.url, { idTokenSource: async () => 'good-token' })
  t.equal(ok.code, 0)
  t.ok(api.requests.every(r => r.headers.authorization === 'Bearer good-token'))
  const bad = await runCli(['jobs'], api.url, { idTokenSource: async () => 'eyJ-secret-token' })
  t.equal(bad.code, 5)
  t.match(bad.stderr, 'UNAUTHENTICATED 401: the ID token is not valid for this service')
  t.match(bad.stderr, 'a Google ID token from Application Default Credentials')
  t.notMatch(bad.stderr, 'eyJ-secret-token')
  const given = await runCli(['jobs'], api.url, { env: { JOBGATE_URL: api.url, JOBGATE_ID_TOKEN: 'eyJ-given' } })
  t.equal(given.code, 5)
  t.match(given.stderr, 'the ID token in JOBGATE_ID_TOKEN')
  t.notMatch(given.stderr, 'eyJ-given')
})

t.test('the default source: google-auth-library against a metadata server (GCE_METADATA_HOST)', async t => {
  const audiences: string[] = []
  const token = fakeJwt({ aud: 'x', exp: Math.floor(Date.now() / 1000) + 3600 })
  const metadata = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://m')
    if (req.headers['metadata-flavor'] !== 'Google') { res.writeHead(403); res.end(); return }
    res.setHeader('metadata-flavor', 'Google')
    if (url.pathname.endsWith('/service-accounts/default/identity')) { audiences.push(url.searchParams.get('audience') ?? ''); res.end(token); return }
    if (url.pathname === '/computeMetadata/v1/project/project-id') { res.end('test-project'); return }
    res.end('{}')
  })
  await new Promise<void>(resolve => metadata.listen(0, '127.0.0.1', resolve))
  const emptyConfig = await mkdtemp(join(tmpdir(), 'jobgate-gcloud-'))
  const saved = { ...process.env }
  process.env.GCE_METADATA_HOST = `127.0.0.1:${(metadata.address() as AddressInfo).port}`
  process.env.CLOUDSDK_CONFIG = emptyConfig
  delete process.env.GOOGLE_APPLICATION_CREDENTIALS
  t.teardown(async () => {
    process.env = saved
    metadata.close()
    await rm(emptyConfig, { recursive: true })
  })
  const source = googleIdTokenSource()
  t.equal(await source('https://a.example'), token)
  t.equal(await source('https://a.example'), token, 'cached until it nears expiry')
  t.equal(await source('https://b.example'), token)
  t.same(audiences, ['https://a.example', 'https://b.example'])

  const api = await startFakeApi({ bearerToken: token })
  t.teardown(() => api.close())
  const cli = await runCli(['jobs'], api.url, { idTokenSource: googleIdTokenSource() })
  t.equal(cli.code, 0, cli.stderr)
})

t.test('the default source reports a credential that yields no token, and retries after a failure', async t => {
  let calls = 0
  const fakeAuth = {
    getIdTokenClient: async () => {
      calls++
      if (calls === 1) throw new Error('no ADC')
      return { getRequestHeaders: async () => new Headers() }
    }
  }
  const source = googleIdTokenSource(fakeAuth as never)
  await t.rejects(source('https://a'), { message: 'no ADC' })
  await t.rejects(source('https://a'), { message: 'the credentials returned no ID token' })
  t.equal(calls, 2, 'a failed client is not cached')
})

t.test('metadata lookup warnings are dropped, other warnings pass', async t => {
  const seen: unknown[][] = []
  const target = { emitWarning: (...args: unknown[]) => { seen.push(args) } }
  silenceMetadataLookupWarnings(target as never)
  target.emitWarning('received unexpected error', 'MetadataLookupWarning')
  target.emitWarning('received unexpected error', { type: 'MetadataLookupWarning' })
  target.emitWarning('something else', 'DeprecationWarning')
  target.emitWarning('plain')
  t.same(seen, [['something else', 'DeprecationWarning'], ['plain']])
})

t.test('the Workload Identity Federation file google-github-actions/auth leaves: ID tokens through IAM Credentials', async t => {
  const wif = await startWorkloadIdentityStandIn()
  const dir = await mkdtemp(join(tmpdir(), 'jobgate-wif-'))
  const saved = { ...process.env }
  process.env.GOOGLE_APPLICATION_CREDENTIALS = wif.credentialsFile(dir)
  process.env.CLOUDSDK_CONFIG = dir
  t.teardown(async () => {
    process.env = saved
    await wif.close()
    await rm(dir, { recursive: true })
  })
  const audience = 'https://jobgate-abc123-ew.a.run.app'
  const api = await startFakeApi({ bearerToken: wif.idTokenFor(audience) })
  t.teardown(() => api.close())
  const source = googleIdTokenSource()
  const cli = await runCli(['run', 'echo', '--wait', '--url', api.url], undefined, { idTokenSource: async () => await source(audience) })
  t.equal(cli.code, 0, cli.stderr)
  t.ok(api.requests.length > 0 && api.requests.every(request => request.headers.authorization === `Bearer ${wif.idTokenFor(audience)}`))
  t.same(wif.idTokenAudiences(), [audience], 'one ID token, minted once and reused until it nears expiry')
})
