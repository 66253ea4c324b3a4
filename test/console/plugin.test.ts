import { readdirSync, readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import t from 'tap'
import { unauthenticated } from '../../api/errors.js'
import { CONSOLE_ASSETS, CONTENT_SECURITY_POLICY } from '../../api/console/plugin.js'
import { build } from '../helper.js'

const PUBLIC = new URL('../../api/console/public/', import.meta.url)
const text = (name: string): string => readFileSync(new URL(name, PUBLIC), 'utf8')

t.test('/ redirects to /console; every console file is served with the strict CSP and without credentials', async t => {
  const { app } = await build(t, { authenticate: async () => { throw unauthenticated('missing credentials') } })
  const root = await app.inject('/')
  t.equal(root.statusCode, 302)
  t.equal(root.headers.location, '/console')
  const page = await app.inject('/console')
  t.equal(page.statusCode, 200, 'the page needs no credentials')
  t.equal(page.headers['content-type'], 'text/html; charset=utf-8')
  t.equal(page.body, text('index.html'))
  for (const [name, type] of Object.entries(CONSOLE_ASSETS)) {
    const asset = await app.inject(`/console/${name}`)
    t.equal(asset.statusCode, 200, name)
    t.equal(asset.headers['content-type'], type, `${name} type`)
    t.equal(asset.headers['content-security-policy'], CONTENT_SECURITY_POLICY, `${name} CSP`)
    t.equal(asset.headers['x-content-type-options'], 'nosniff')
    t.equal(asset.headers['referrer-policy'], 'no-referrer')
  }
  t.match(CONTENT_SECURITY_POLICY, /default-src 'none'/)
  t.match(CONTENT_SECURITY_POLICY, /script-src 'self'(;|$)/, 'scripts from this origin only: no inline, no eval')
  t.match(CONTENT_SECURITY_POLICY, /style-src 'self'(;|$)/, 'no inline style')
  t.notMatch(CONTENT_SECURITY_POLICY, /unsafe|https?:|\*/)
  const me = await app.inject('/v1/me')
  t.equal(me.statusCode, 401, 'the API behind it still asks for credentials')
})

t.test('an unchanged file answers 304 to its ETag; an unknown one is a 404 in the contract\'s shape', async t => {
  const { app } = await build(t)
  const first = await app.inject('/console/app.js')
  const again = await app.inject({ url: '/console/app.js', headers: { 'if-none-match': first.headers.etag as string } })
  t.equal(again.statusCode, 304)
  t.equal(again.body, '')
  for (const url of ['/console/nope.js', '/console/..%2Fplugin.ts', '/console/%2e%2e%2fplugin.ts']) {
    const missing = await app.inject(url)
    t.equal(missing.statusCode, 404, url)
    t.equal(missing.json().error.status, 'NOT_FOUND')
  }
})

t.test('the console is self-contained: no external URL, no inline script or style, every file listed', async t => {
  const names = Object.keys(CONSOLE_ASSETS)
  t.same([...names].sort(), readdirNames(), 'every file in public/ is served, and only those')
  for (const name of names) {
    const body = text(name)
    t.notMatch(body, /(https?:)?\/\/(?!www\.w3\.org\/2000\/svg)[a-z0-9.-]+\.[a-z]{2,}/i, `${name}: no external URL`)
    t.notMatch(body, /\bstyle=|<style|\bon[a-z]+=|javascript:|\beval\(|new Function/i, `${name}: nothing a strict CSP would block`)
    t.notMatch(body, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/, `${name}: API text goes in as text, never as markup`)
  }
  const html = text('index.html')
  t.same([...html.matchAll(/<script\b[^>]*>/g)].map(([tag]) => tag), ['<script type="module" src="/console/app.js">'], 'one external module script, nothing inline')
  t.same([...html.matchAll(/<script[^>]*>([^<]*)<\/script>/g)].map(([, body]) => body), [''])
  const bytes = names.reduce((sum, name) => sum + readFileSync(new URL(name, PUBLIC)).length, 0)
  const gzipped = names.reduce((sum, name) => sum + gzipSync(readFileSync(new URL(name, PUBLIC)), { level: 9 }).length, 0)
  t.ok(bytes < 64 * 1024, `the console is small: ${bytes} bytes (${gzipped} gzipped)`)
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  for (const fact of [`${names.length} files in \`api/console/public/\``, `${bytes.toLocaleString('en-US')} bytes, ${gzipped.toLocaleString('en-US')} gzipped`]) {
    t.ok(readme.includes(fact), `the README states the console as shipped: "${fact}"`)
  }
})

t.test('GET /v1/me names the caller and its tenant scope, and is in the OpenAPI document', async t => {
  const callers = { a: { name: 'ci', tenant: 'acme' }, f: { name: 'ops', tenantFree: true }, n: { name: 'batch' } } as const
  const { app } = await build(t, { authenticate: async headers => callers[headers['x-api-key'] as keyof typeof callers] })
  t.same((await app.inject({ url: '/v1/me', headers: { 'x-api-key': 'a' } })).json(), { name: 'ci', tenant: 'acme', tenantFree: false })
  t.same((await app.inject({ url: '/v1/me', headers: { 'x-api-key': 'f' } })).json(), { name: 'ops', tenantFree: true })
  t.same((await app.inject({ url: '/v1/me', headers: { 'x-api-key': 'n' } })).json(), { name: 'batch', tenantFree: false })
  t.equal((await app.inject('/v1/me?x=1')).statusCode, 400, 'no query parameters')
  const openapi = (await app.inject('/openapi.json')).json()
  t.ok(openapi.paths['/v1/me']?.get, '/v1/me is documented')
  t.notOk(openapi.paths['/console'], 'the console\'s files are not API routes')
})

function readdirNames (): string[] {
  return readdirSync(PUBLIC).sort()
}
