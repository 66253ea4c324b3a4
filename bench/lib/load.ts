import { Pool } from 'undici'

export interface LoadRequest {
  method: 'GET' | 'POST'
  path: string
  headers?: Record<string, string>
  body?: string
}

export interface LoadResult {
  /** Responses with `expect`ed status per second. */
  rate: number
  /** Responses by status code. */
  statuses: Record<number, number>
}

/** `connections` clients, each sending its next request as soon as the last is answered, for `seconds`. */
export async function load (
  origin: string,
  request: LoadRequest,
  options: { connections: number, seconds: number, expect: number }
): Promise<LoadResult> {
  const pool = new Pool(origin, { connections: options.connections, pipelining: 1 })
  const statuses: Record<number, number> = {}
  const stopAt = performance.now() + options.seconds * 1000
  const started = performance.now()
  const client = async (): Promise<void> => {
    while (performance.now() < stopAt) {
      const { statusCode, body } = await pool.request({
        method: request.method,
        path: request.path,
        headers: request.headers ?? {},
        body: request.body ?? null
      })
      await body.dump()
      statuses[statusCode] = (statuses[statusCode] ?? 0) + 1
    }
  }
  await Promise.all(Array.from({ length: options.connections }, client))
  const elapsed = (performance.now() - started) / 1000
  await pool.close()
  return { rate: (statuses[options.expect] ?? 0) / elapsed, statuses }
}
