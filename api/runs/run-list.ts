import type { ExecutionPage } from '../cloudrun/client.js'
import type { Execution } from '../cloudrun/execution.js'
import { apiErrorOf } from '../errors.js'
import type { PageTokens } from '../pages/page-tokens.js'

/** Executions per upstream read once a list is under way (Cloud Run v1's largest page). */
export const UPSTREAM_PAGE_SIZE = 100

/** Where a list goes on: after an upstream page token, skipping the executions of that page already handed out. */
interface Position { after?: string, skip: number }

export interface VisibleRunsQuery {
  pageSize: number
  pageToken?: string
  /** Who asks for which list: a token opens only for the same caller and job. */
  binding: string
  /** The run-level tenant check (api/policy/run-access.ts). */
  visible: (execution: Execution) => boolean
  /** One upstream page, on the caller's share of the read budget (a spent share is a 429). */
  readPage: (page: { pageSize: number, pageToken?: string }) => Promise<ExecutionPage>
}

export interface VisibleRunsPage { executions: Execution[], nextPageToken?: string }

function asPosition (value: unknown): Position {
  const { after, skip } = (value ?? {}) as Partial<Position>
  return { ...(typeof after === 'string' && { after }), skip: typeof skip === 'number' && Number.isInteger(skip) && skip >= 0 ? skip : 0 }
}

/**
 * A page of the runs the caller may see, newest first. Another tenant's runs are skipped by reading
 * on, within the caller's share of the budget, until the page is full or the list ends: a page is
 * never empty while a token says there is more. The first read asks for exactly a page, so a full
 * first page ends where Cloud Run's own token begins (new runs cannot shift it); later reads take
 * Cloud Run's largest page and remember how much of it was handed out. When the share runs out
 * mid-way, what was found is answered with a token to go on; nothing found is the 429.
 */
export async function listVisibleRuns (query: VisibleRunsQuery, tokens: PageTokens): Promise<VisibleRunsPage> {
  let position = query.pageToken === undefined ? { skip: 0 } : asPosition(await tokens.open(query.binding, query.pageToken))
  const found: Execution[] = []
  const answer = async (next: Position | undefined): Promise<VisibleRunsPage> =>
    next === undefined ? { executions: found } : { executions: found, nextPageToken: await tokens.seal(query.binding, next) }
  for (;;) {
    let page: ExecutionPage
    try {
      const pageSize = position.after === undefined ? query.pageSize : UPSTREAM_PAGE_SIZE
      page = await query.readPage({ pageSize, ...(position.after !== undefined && { pageToken: position.after }) })
    } catch (error) {
      if (found.length > 0 && apiErrorOf(error)?.status === 'RESOURCE_EXHAUSTED') return await answer(position)
      throw error
    }
    const { executions } = page
    for (let i = position.skip; i < executions.length; i++) {
      const execution = executions[i] as Execution
      if (!query.visible(execution)) continue
      found.push(execution)
      if (found.length < query.pageSize) continue
      if (i + 1 < executions.length) return await answer({ ...(position.after !== undefined && { after: position.after }), skip: i + 1 })
      return await answer(page.nextPageToken === undefined ? undefined : { after: page.nextPageToken, skip: 0 })
    }
    if (page.nextPageToken === undefined) return await answer(undefined)
    position = { after: page.nextPageToken, skip: 0 }
  }
}
