// What the built server (`node dist/api/server.js`, as the image starts it) loads before its first use of each part.
import { createHash } from 'node:crypto'
import t from 'tap'
import { startMetadataStandIn } from '../helpers/metadata-standin.js'
import { moduleTrace } from '../helpers/module-trace.js'
import { startRunApiStandIn } from '../helpers/run-api-standin.js'
import { spawnApiServer } from '../helpers/spawn-api-server.js'

t.test('cloud mode with API keys: google-auth-library, undici and the response serializers load at the first run request, the OpenAPI document, its UI and light-my-request (inject() answers /docs) at the first /docs; ajv\'s validator compiler, ip-address, the emulator and Firestore never', async t => {
  const runApi = await startRunApiStandIn()
  const metadata = await startMetadataStandIn()
  t.teardown(async () => { await runApi.close(); await metadata.close() })
  const trace = moduleTrace()
  const server = await spawnApiServer({
    ...trace.env,
    JOBGATE_MODE: 'cloud',
    JOBGATE_AUTH: 'apikey',
    JOBGATE_API_KEYS: JSON.stringify({ keys: [{ sha256: createHash('sha256').update('lazy-key').digest('hex'), principal: 'ci' }] }),
    CLOUD_RUN_API_ENDPOINT: runApi.url,
    GCE_METADATA_HOST: metadata.host,
    GOOGLE_CLOUD_PROJECT: 'my-project',
    JOBGATE_JOBS: '{"jobs":{"echo":{"principals":["ci"]}}}'
  }, 60_000, trace.nodeArgs) // a safety net, not a timing: a loaded machine starts a traced server slowly
  t.teardown(() => { if (server.child.exitCode === null) server.child.kill('SIGKILL') })

  t.equal((await fetch(`${server.url}/healthz`)).status, 200)
  t.ok(trace.loaded().some(url => url.includes('/dist/api/server.js')), 'the trace sees the server')
  t.notOk(trace.hasPackage('google-auth-library'), 'no Google library before a token is needed')
  t.notOk(trace.hasPackage('@google-cloud/firestore'), 'Firestore only when selected')
  t.notOk(trace.loaded().some(url => url.includes('local-mode')), 'the emulator only in local mode')
  t.notOk(trace.hasPackage('undici'), 'no HTTP client library before the first upstream call')
  t.notOk(trace.hasPackage('@fastify/swagger') || trace.hasPackage('@fastify/swagger-ui'), 'no OpenAPI document or UI before /docs or /openapi.json')
  // scripts/bundle-plan.mjs: what the bundle leaves out of the start.
  t.notOk(trace.hasPackage('@fastify/fast-json-stringify-compiler') || trace.hasPackage('ajv') || trace.hasPackage('ajv-formats'), 'no response serializer (fast-json-stringify, ajv) before a response needs one')
  t.notOk(trace.hasPackage('@fastify/ajv-compiler'), 'no ajv validator compiler: routes validate with typebox')
  t.notOk(trace.hasPackage('ip-address'), 'no IP subnet parser: the rate budgets key by caller')
  t.notOk(trace.hasPackage('light-my-request'), 'no inject() machinery before /docs')
  t.ok(trace.hasFile('semver/functions/satisfies.js'), 'fastify\'s plugin version check has its semver functions…')
  t.notOk(trace.hasFile('semver/index.js') || trace.hasFile('semver/functions/inc.js'), '…and no more of semver')
  t.ok(trace.loaded().includes('node:http'), 'the trace sees Node\'s built-ins…')
  t.notOk(trace.loaded().includes('node:https') || trace.loaded().includes('node:http2'), '…and no HTTPS or HTTP/2 server module for an HTTP/1 server')

  const started = await fetch(`${server.url}/v1/jobs/echo/runs`, { method: 'POST', headers: { 'x-api-key': 'lazy-key', 'content-type': 'application/json' }, body: '{}' })
  t.equal(started.status, 202, await started.text())
  t.equal(metadata.tokenRequests(), 1)
  t.ok(trace.hasPackage('google-auth-library'), 'loaded for the first token, so the check above could have failed')
  t.ok(trace.hasPackage('undici'), 'loaded for the first Cloud Run call')
  t.notOk(trace.hasPackage('@fastify/swagger'), 'a run needs no OpenAPI document')
  t.ok(trace.hasPackage('@fastify/fast-json-stringify-compiler') && trace.hasPackage('ajv'), 'the 202\'s serializer compiled at the first response, so the check above could have failed')

  const docs = await fetch(`${server.url}/docs/`)
  t.equal(docs.status, 200)
  t.match(await docs.text(), /swagger/i, 'the UI page')
  t.ok(trace.hasPackage('@fastify/swagger') && trace.hasPackage('@fastify/swagger-ui') && trace.hasPackage('light-my-request'), 'loaded for /docs')
  const document = await (await fetch(`${server.url}/openapi.json`)).json() as { paths: Record<string, unknown> }
  t.ok('/v1/jobs/{job}/runs' in document.paths, 'and the document describes the routes registered before it was built')
  t.notOk(trace.hasPackage('@fastify/ajv-compiler') || trace.hasPackage('ip-address'), 'still never loaded')
})
