/** docs/api.md is the API reference: its routes table lists exactly the OpenAPI document's routes and status codes. */
import { readdirSync, readFileSync } from 'node:fs'
import t from 'tap'
import { hashApiKey } from '../../api/auth/index.js'
import { build, UNIT_ENV } from '../helper.js'

const DOC = 'docs/api.md'
const text = readFileSync(new URL(`../../${DOC}`, import.meta.url), 'utf8')

/** `| \`GET /v1/jobs\` | 200, 401 | … |` rows of the "## Routes" section: route → status codes. */
function documentedRoutes (markdown: string): Map<string, string[]> {
  const section = markdown.split(/^## /m).find(part => part.startsWith('Routes\n')) ?? ''
  const rows = new Map<string, string[]>()
  for (const [, route = '', codes = ''] of section.matchAll(/^\| `([A-Z]+ \/[^`]*)` \| ([^|]*) \|/gm)) {
    rows.set(route, codes.split(',').map(code => code.trim()).filter(code => code !== ''))
  }
  return rows
}

t.test(`${DOC} lists every route of /openapi.json with its status codes, and nothing else`, async t => {
  const { app } = await build(t)
  const openapi = (await app.inject('/openapi.json')).json<{ paths: Record<string, Record<string, { summary?: string, responses?: Record<string, unknown> }>> }>()
  const documented = documentedRoutes(text)
  t.ok(documented.size > 0, `${DOC} has a "## Routes" table`)
  const served = new Set<string>()
  for (const [path, operations] of Object.entries(openapi.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const route = `${method.toUpperCase()} ${path}`
      served.add(route)
      const codes = Object.keys(operation.responses ?? {})
      const row = `| \`${route}\` | ${codes.join(', ')} | ${operation.summary ?? 'what it does'} |`
      const listed = documented.get(route)
      if (listed === undefined) t.fail(`${DOC}: the route ${route} is served but not documented; add this row to the Routes table:\n${row}`)
      else t.same(listed, codes, `${DOC}: ${route} answers ${codes.join(', ')}; make its row read:\n${row}`)
    }
  }
  for (const route of documented.keys()) {
    if (!served.has(route)) t.fail(`${DOC}: ${route} is documented but not served (or hidden from OpenAPI); remove its row or serve it`)
  }
})

t.test('/openapi.json lists 401 on every route that refuses a request without credentials, and 403 where principals apply', async t => {
  const strangerKey = 'jg_stranger_key_for_the_doc_walk_00'
  const keys = { keys: [{ sha256: hashApiKey(strangerKey), principal: 'stranger', tenantFree: true }] }
  const jobs = { echo: { job: 'echo-job', principals: ['ci'], pubsub: {} } }
  const { app } = await build(t, { env: { ...UNIT_ENV, JOBGATE_AUTH: 'apikey', JOBGATE_API_KEYS: JSON.stringify(keys), JOBGATE_JOBS: JSON.stringify({ jobs }) } })
  const openapi = (await app.inject('/openapi.json')).json<{ paths: Record<string, Record<string, { responses?: Record<string, unknown> }>> }>()
  let walked = 0
  for (const [path, operations] of Object.entries(openapi.paths)) {
    // Any route of a job, and any run of it: principals are checked before the run is looked up.
    const url = path.replace('{job}', 'echo').replace(/\{[a-z]+\}/gi, 'echo-job-abcde')
    for (const [method, operation] of Object.entries(operations)) {
      const route = `${method.toUpperCase()} ${path}`
      const listed = Object.keys(operation.responses ?? {})
      const send = async (headers: Record<string, string>): Promise<number> => (await app.inject({
        method: method.toUpperCase() as 'GET',
        url,
        headers: { ...headers, ...(method !== 'get' && { 'content-type': 'application/json' }) },
        ...(method !== 'get' && { payload: '{}' })
      })).statusCode
      const anonymous = await send({})
      t.equal(anonymous, 401, `${route} refuses a request without credentials`)
      t.ok(listed.includes('401'), `${route} lists 401`)
      walked++
      // A stranger's firehose is a 200 stream (of nothing it may see) that never ends: test/lifecycle/firehose.test.ts.
      if (path === '/v1/events') continue
      const stranger = await send({ 'x-api-key': strangerKey })
      // A job's routes all apply its principals; a route without a job lists 403 when it answers it.
      if (path.includes('{job}') || stranger === 403) t.ok(listed.includes('403'), `${route} lists 403 (the stranger got ${stranger})`)
    }
  }
  t.ok(walked >= 10, `${walked} routes walked`)
})

t.test('code and docs cite the reference in the repository, never the contract file outside it', async t => {
  const outside = ['CONTRACT', 'md'].join('.')
  const root = new URL('../../', import.meta.url)
  const files = ['api', 'cli', 'common', 'emulator', 'job', 'test', 'bench', 'docs']
    .flatMap(dir => readdirSync(new URL(dir, root), { recursive: true, encoding: 'utf8' }).map(name => `${dir}/${name}`))
    .filter(name => /\.(ts|md|js|mjs)$/.test(name))
  t.ok(files.length > 100, `${files.length} files searched`)
  t.same(files.concat('README.md').filter(name => readFileSync(new URL(name, root), 'utf8').includes(outside)), [])
})
