/** The runs list's pages: reading on past runs the caller may not see, and the sealed tokens (api/runs/run-list.ts, api/pages/page-tokens.ts). */
import t from 'tap'
import type { ExecutionPage } from '../../api/cloudrun/client.js'
import type { Execution } from '../../api/cloudrun/execution.js'
import { ApiError } from '../../api/errors.js'
import { MemoryStore } from '../../api/idempotency/index.js'
import { PageTokens } from '../../api/pages/page-tokens.js'
import { listVisibleRuns, UPSTREAM_PAGE_SIZE } from '../../api/runs/run-list.js'
import { fakeExecution } from '../helpers/fake-cloud-run.js'

const nameOf = (execution: Execution): string => execution.metadata?.name ?? ''

/** Cloud Run's list as the emulator serves it: newest first, `limit` a page, the token naming the last execution of the page. */
interface PageRead { pageSize: number, pageToken?: string }

function upstream (executions: Execution[]): { readPage: (page: PageRead) => Promise<ExecutionPage>, reads: PageRead[] } {
  const reads: PageRead[] = []
  return {
    reads,
    readPage: async page => {
      reads.push(page)
      const start = page.pageToken === undefined ? 0 : executions.findIndex(e => nameOf(e) === Buffer.from(page.pageToken ?? '', 'base64url').toString()) + 1
      const items = executions.slice(start, start + page.pageSize)
      const more = start + page.pageSize < executions.length
      return more ? { executions: items, nextPageToken: Buffer.from(nameOf(items.at(-1) as Execution)).toString('base64url') } : { executions: items }
    }
  }
}

/** 250 runs, newest first: every tenth is globex's, the rest acme's. */
const runs = Array.from({ length: 250 }, (_, i) => fakeExecution(`job-${i % 10 === 0 ? 'globex' : 'acme'}-${String(i).padStart(3, '0')}`, 'job'))
const globexOnly = (execution: Execution): boolean => nameOf(execution).includes('globex')

async function allPages (query: Omit<Parameters<typeof listVisibleRuns>[0], 'pageToken'>, tokens: PageTokens): Promise<{ pages: string[][], tokens: string[] }> {
  const pages: string[][] = []
  const handed: string[] = []
  let pageToken: string | undefined
  do {
    const page = await listVisibleRuns({ ...query, ...(pageToken !== undefined && { pageToken }) }, tokens)
    pages.push(page.executions.map(nameOf))
    pageToken = page.nextPageToken
    if (pageToken !== undefined) handed.push(pageToken)
  } while (pageToken !== undefined)
  return { pages, tokens: handed }
}

t.test('a page of another tenant\'s runs is never answered empty with a token: it reads on until full or the list ends', async t => {
  const list = upstream(runs)
  const tokens = new PageTokens(new MemoryStore())
  const { pages, tokens: handed } = await allPages({ pageSize: 4, binding: 'globex', visible: globexOnly, readPage: list.readPage }, tokens)
  t.same(pages.flat(), runs.filter(globexOnly).map(nameOf), 'every run of globex\'s, once, in order')
  t.ok(pages.slice(0, -1).every(page => page.length === 4), 'every page but the last is full')
  t.ok(pages.every(page => page.length > 0), 'no empty page')
  t.equal(list.reads[0]?.pageSize, 4, 'the first read asks for exactly a page')
  t.ok(list.reads.slice(1).every(read => read.pageSize === UPSTREAM_PAGE_SIZE), 'later reads take Cloud Run\'s largest page')
  for (const token of handed) {
    const decoded = Buffer.from(token, 'base64url').toString('latin1')
    t.notOk(runs.some(run => decoded.includes(nameOf(run))), 'a token names no run')
    t.notOk(list.reads.some(read => read.pageToken !== undefined && token.includes(read.pageToken)), 'nor holds Cloud Run\'s token')
  }
})

t.test('everything visible: pages end where Cloud Run\'s token begins, so runs started meanwhile do not shift them', async t => {
  const live = runs.slice(0, 30)
  const list = upstream(live)
  const tokens = new PageTokens(new MemoryStore())
  const first = await listVisibleRuns({ pageSize: 10, binding: 'ops', visible: () => true, readPage: list.readPage }, tokens)
  live.unshift(fakeExecution('job-acme-new', 'job'))
  const second = await listVisibleRuns({ pageSize: 10, pageToken: first.nextPageToken ?? '', binding: 'ops', visible: () => true, readPage: list.readPage }, tokens)
  t.same([...first.executions, ...second.executions].map(nameOf), runs.slice(0, 20).map(nameOf))
})

t.test('a share spent mid-way: what was found, with a token to go on; nothing found: the 429', async t => {
  const list = upstream(runs)
  let allowed = 2
  const readPage = async (page: { pageSize: number, pageToken?: string }): Promise<ExecutionPage> => {
    if (allowed-- <= 0) throw new ApiError('RESOURCE_EXHAUSTED', 'your share is spent', { retryAfterSeconds: 3 })
    return await list.readPage(page)
  }
  const tokens = new PageTokens(new MemoryStore())
  const partial = await listVisibleRuns({ pageSize: 50, binding: 'globex', visible: globexOnly, readPage }, tokens)
  t.equal(partial.executions.length, 15, 'two reads (50, then 100 runs) found fifteen')
  t.ok(partial.nextPageToken !== undefined, 'and the token goes on from there')
  allowed = 10
  const rest = await listVisibleRuns({ pageSize: 50, pageToken: partial.nextPageToken ?? '', binding: 'globex', visible: globexOnly, readPage }, tokens)
  t.same([...partial.executions, ...rest.executions].map(nameOf), runs.filter(globexOnly).map(nameOf))
  allowed = 0
  await t.rejects(listVisibleRuns({ pageSize: 5, binding: 'globex', visible: globexOnly, readPage }, tokens), { name: 'ApiError', status: 'RESOURCE_EXHAUSTED' })
})

t.test('tokens: bound to who asked for which list, tamper-proof, a day or two old at most, the same key on every instance sharing a store', async t => {
  let now = Date.parse('2026-12-01T12:00:00Z')
  const shared = new MemoryStore({ now: () => now })
  const one = new PageTokens(shared, () => now)
  const other = new PageTokens(shared, () => now)
  const token = await one.seal('["ci-acme","acme"]/echo', { after: 'upstream-token', skip: 3 })
  t.same(await other.open('["ci-acme","acme"]/echo', token), { after: 'upstream-token', skip: 3 }, 'another instance opens it')
  const refused = { name: 'ApiError', status: 'INVALID_ARGUMENT', message: /^pageToken: not a token jobgate handed out for this list/ }
  await t.rejects(one.open('["ci-globex","globex"]/echo', token), refused, 'another caller cannot')
  await t.rejects(new PageTokens(new MemoryStore(), () => now).open('["ci-acme","acme"]/echo', token), refused, 'nor an instance with its own key')
  const bytes = Buffer.from(token, 'base64url')
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 1
  await t.rejects(one.open('["ci-acme","acme"]/echo', bytes.toString('base64url')), refused, 'a changed byte')
  for (const junk of ['', 'x', 'AQ', 'next/page=', `${token}=`]) await t.rejects(one.open('["ci-acme","acme"]/echo', junk), refused, `junk ${JSON.stringify(junk)}`)
  now += 86_400_000
  t.same(await other.open('["ci-acme","acme"]/echo', token), { after: 'upstream-token', skip: 3 }, 'yesterday\'s token still opens')
  now += 86_400_000
  await t.rejects(other.open('["ci-acme","acme"]/echo', token), refused, 'older ones do not')
})
