/**
 * A Server-Sent Events parser (the WHATWG event-stream format) for streams read with fetch():
 * EventSource cannot send X-API-Key. Feed it text chunks; it calls onEvent({ event, data, id }).
 */
export function sseParser (onEvent) {
  let pending = ''
  let event = ''
  let data = []
  let lastId = ''
  const line = text => {
    if (text === '') {
      if (data.length > 0) onEvent({ event: event === '' ? 'message' : event, data: data.join('\n'), id: lastId })
      event = ''
      data = []
      return
    }
    if (text.startsWith(':')) return
    const colon = text.indexOf(':')
    const field = colon === -1 ? text : text.slice(0, colon)
    const value = colon === -1 ? '' : text.slice(colon + (text[colon + 1] === ' ' ? 2 : 1))
    if (field === 'event') event = value
    else if (field === 'data') data.push(value)
    else if (field === 'id' && !value.includes('\u0000')) lastId = value
  }
  return chunk => {
    pending += chunk
    // A trailing CR may be the first half of CRLF: keep it until the next chunk says.
    const cut = pending.endsWith('\r') ? pending.length - 1 : pending.length
    const lines = pending.slice(0, cut).split(/\r\n|\r|\n/)
    pending = lines.pop() + pending.slice(cut)
    lines.forEach(line)
  }
}

/** Reads an event stream from a fetch() Response body to its end, calling onEvent per event. */
export async function readEvents (response, onEvent) {
  const push = sseParser(onEvent)
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    push(value)
  }
}
