/** docs/api.md is the API reference: its routes table lists exactly the OpenAPI document's routes and status codes. */
import { readdirSync, readFileSync } from 'node:fs'
import t from 'tap'
import { build } from '../helper.js'

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

t.test('code and docs cite the reference in the repository, never the contract file outside it', async t => {
  const outside = ['CONTRACT', 'md'].join('.')
  const root = new URL('../../', import.meta.url)
  const files = ['api', 'cli', 'common', 'emulator', 'job', 'test', 'bench', 'docs']
    .flatMap(dir => readdirSync(new URL(dir, root), { recursive: true, encoding: 'utf8' }).map(name => `${dir}/${name}`))
    .filter(name => /\.(ts|md|js|mjs)$/.test(name))
  t.ok(files.length > 100, `${files.length} files searched`)
  t.same(files.concat('README.md').filter(name => readFileSync(new URL(name, root), 'utf8').includes(outside)), [])
})
