// The Node range package.json promises holds for every installed package (no EBADENGINE from `npm ci`),
// and the two packages pinned back by `overrides` still work where their dependents use them.
import t from 'tap'
import Fastify from 'fastify'
import fastifyStatic from '@fastify/static'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { repoRoot } from './stubs.js'

const { subset, satisfies } = createRequire(import.meta.url)('semver') as {
  subset: (sub: string, dom: string) => boolean
  satisfies: (version: string, range: string) => boolean
}
interface LockedPackage { version?: string, engines?: { node?: string } }
const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { engines: { node: string }, overrides: Record<string, unknown> }
const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockedPackage> }
const range = manifest.engines.node

t.test('every locked package supports every Node version package.json admits', async t => {
  t.equal(lock.packages['']?.engines?.node, range, 'the lockfile is current')
  const narrower = Object.entries(lock.packages)
    .filter(([path, entry]) => path !== '' && entry.engines?.node !== undefined && !subset(range, entry.engines.node))
    .map(([path, entry]) => `${path.replace(/^.*node_modules\//, '')}@${entry.version ?? '?'} wants node ${entry.engines?.node ?? ''}`)
  t.same(narrower, [], `packages whose engines exclude part of ${range}`)
  t.ok(satisfies(process.version, range), `this Node (${process.version}) is in ${range}`)
})

t.test('the README states the same Node range', async t => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8')
  t.ok(readme.includes(`Node \`${range}\``), `README says Node \`${range}\``)
})

t.test('@fastify/static with its pinned content-disposition names a download', async t => {
  t.ok(manifest.overrides['@fastify/static'], 'the override this test covers is in place')
  const app = Fastify()
  t.teardown(async () => await app.close())
  await app.register(fastifyStatic, { root: join(repoRoot, 'docs'), serve: false })
  app.get('/download', async (_request, reply) => await reply.download('api.md', 'the api.md'))
  const res = await app.inject({ url: '/download' })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-disposition'], 'attachment; filename="the api.md"')
})

t.test('light-my-request with its pinned cookie sends cookies to the app', async t => {
  t.ok(manifest.overrides['light-my-request'], 'the override this test covers is in place')
  const app = Fastify()
  t.teardown(async () => await app.close())
  app.get('/cookie', async request => ({ cookie: request.headers.cookie }))
  const res = await app.inject({ url: '/cookie', cookies: { session: 'a b', theme: 'dark' } })
  t.same(res.json(), { cookie: 'session=a%20b; theme=dark' })
})
