/** JSON over real HTTP, returning status, headers and parsed body. */
export async function call (
  url: string,
  init: { method?: string, body?: unknown, headers?: Record<string, string> } = {}
): Promise<{ status: number, headers: Headers, body: any }> {
  const response = await fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { ...(init.body !== undefined && { 'content-type': 'application/json' }), ...init.headers },
    ...(init.body !== undefined && { body: JSON.stringify(init.body) })
  })
  const text = await response.text()
  return { status: response.status, headers: response.headers, body: text === '' ? undefined : JSON.parse(text) }
}
