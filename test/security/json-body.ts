import type { Test } from 'tap'
import { ApiError } from '../../api/errors.js'
import { MAX_JSON_DEPTH, parseStrictJson } from '../../api/plugins/strict-input/json-body.js'
import { MAX_BODY_BYTES } from '../../api/schemas/run.js'

/** The strict JSON body parser on its own: what it accepts, what it refuses and why, and what it costs. */
export function jsonBodyTests (t: Test): void {
  const parse = (text: string | Buffer): unknown => parseStrictJson(typeof text === 'string' ? Buffer.from(text) : text)

  function rejection (text: string | Buffer): string {
    try {
      parse(text)
    } catch (error) {
      if (error instanceof ApiError && error.status === 'INVALID_ARGUMENT') return error.message
      throw error
    }
    throw new Error(`accepted: ${String(text)}`)
  }

  t.test('valid JSON parses as JSON.parse would', async t => {
    for (const text of ['{}', '[]', '"x"', '0', 'null', ' {"args":["a","b"],"env":{"A":"1","B":"2"},"taskCount":3} ',
      '{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]}', '{"a":"}{][,:\\"","b":"\\\\","c":"\\\\\\"","d":"\\u0041"}',
      '{"A":"1","\\u0042":"2"}', '{"a\\"b":1,"a\\\\b":2,"a\\\\\\"b":3}', '{"é":1,"e\\u0301":2,"漢":3,"🙂":4}',
      `{${Array.from({ length: 100 }, (_, i) => `"k${i}":${i}`).join(',')}}`]) {
      t.same(parse(text), JSON.parse(text), text.slice(0, 60))
    }
    t.same(parse(Buffer.from('\ufeff{"a":1}')), { a: 1 }, 'a UTF-8 byte order mark is dropped')
    t.equal(Object.getPrototypeOf(parse('{"a":1}')), Object.prototype, 'ordinary objects')
  })

  t.test('duplicate keys are refused at any depth, named by path', async t => {
    const cases: Array<[string, string]> = [
      ['{"a":1,"a":2}', 'a: duplicate key'],
      ['{"env":{"A":"1","A":"2"}}', 'env.A: duplicate key'],
      ['{"env":{"A":"1","\\u0041":"2"}}', 'env.A: duplicate key'],
      ['{"a":[{"b":1},{"b":1,"b":2}]}', 'a[1].b: duplicate key'],
      ['[{"x":1,"x":1}]', '[0].x: duplicate key'],
      ['{"a":{"b":[[{"c":1}],[{"c":1,"c":1}]]}}', 'a.b[1][0].c: duplicate key'],
      ['{"a":"x\\\\","a":"y"}', 'a: duplicate key'],
      ['{"q\\"":1,"q\\"":2}', 'q": duplicate key'],
      [`{${Array.from({ length: 40 }, (_, i) => `"k${i}":${i}`).join(',')},"k7":0}`, 'k7: duplicate key'],
      [`{${Array.from({ length: 40 }, (_, i) => `"k${i}":${i}`).join(',')},"k40":0,"k40":1}`, 'k40: duplicate key']
    ]
    for (const [text, message] of cases) t.equal(rejection(text), message, text.slice(0, 70))
    t.same(parse('{"a":{"x":1},"b":{"x":1},"c":[{"x":1},{"x":1}]}'), { a: { x: 1 }, b: { x: 1 }, c: [{ x: 1 }, { x: 1 }] }, 'the same key in sibling objects is fine')
  })

  t.test('__proto__ and constructor keys are refused, however they are spelled', async t => {
    for (const text of ['{"__proto__":{}}', '{"a":{"__proto__":1}}', '{"\\u005f_proto__":1}', '[{"constructor":{"prototype":{}}}]', '{"env":{"constructor":"x"}}']) {
      t.match(rejection(text), /the key "(__proto__|constructor)" is not allowed/, text)
    }
    t.same(parse('{"prototype":1,"proto":2,"__proto":3,"Constructor":4}'), { prototype: 1, proto: 2, __proto: 3, Constructor: 4 }, 'look-alikes are ordinary keys')
    t.same(parse('{"a":"__proto__"}'), { a: '__proto__' }, 'as a value it is only text')
  })

  t.test('nesting is bounded', async t => {
    const nested = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`
    t.same(parse(nested(MAX_JSON_DEPTH)), JSON.parse(nested(MAX_JSON_DEPTH)), `${MAX_JSON_DEPTH} levels are fine`)
    t.equal(rejection(nested(MAX_JSON_DEPTH + 1)), `body: nested deeper than ${MAX_JSON_DEPTH} levels`)
    t.equal(rejection(`${'{"a":'.repeat(MAX_JSON_DEPTH + 1)}1${'}'.repeat(MAX_JSON_DEPTH + 1)}`), `body: nested deeper than ${MAX_JSON_DEPTH} levels`)
  })

  t.test('not UTF-8, not JSON: 400 that never quotes the input back', async t => {
    t.equal(rejection(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])), 'body: not valid UTF-8')
    t.equal(rejection(Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22])), 'body: not valid UTF-8', 'an encoded surrogate')
    const message = rejection('{"token":"ya29.do-not-echo" x}')
    t.match(message, /^body: not valid JSON( \(at character \d+\))?$/)
    t.notMatch(message, /ya29|do-not-echo/)
    t.equal(rejection(''), 'body: not valid JSON')
  })

  /** A body just under 256 KiB, built by repeating a part as often as fits (sizes grow about linearly in n). */
  function fill (make: (n: number) => string): Buffer {
    let n = 1000
    for (;;) {
      const size = Buffer.byteLength(make(n))
      if (size <= MAX_BODY_BYTES && size > MAX_BODY_BYTES * 0.97) return Buffer.from(make(n))
      n = Math.max(1, Math.floor(n * (MAX_BODY_BYTES * 0.99) / size))
    }
  }

  /** The median times of two pieces of work, run in turns: a loaded machine slows both alike. */
  function medianMs (first: () => void, second: () => void, runs: number): [number, number] {
    const time = (work: () => void): number => {
      const began = process.hrtime.bigint()
      work()
      return Number(process.hrtime.bigint() - began) / 1e6
    }
    const firsts: number[] = []
    const seconds: number[] = []
    for (let i = 0; i < runs + 5; i++) {
      const [one, two] = [time(first), time(second)]
      // The first five warm up.
      if (i >= 5) { firsts.push(one); seconds.push(two) }
    }
    const median = (list: number[]): number => list.sort((a, b) => a - b)[list.length >> 1] ?? 0
    return [median(firsts), median(seconds)]
  }

  t.test('the cost of the strict parser on 256 KiB bodies, against JSON.parse', async t => {
    const bodies: Record<string, Buffer> = {
      'run request, 4 KiB args': fill(n => JSON.stringify({ args: Array.from({ length: n }, (_, i) => `${'x'.repeat(4000)}${i}`) })),
      'run request, 100 env values': fill(n => JSON.stringify({ env: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`V${i}`, 'v'.repeat(n)])) })),
      'worst case: one object of short keys': fill(n => JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 0])))),
      'worst case: array of small objects': fill(n => JSON.stringify(Array.from({ length: n }, (_, i) => ({ a: i, b: 'x' })))),
      'escape-heavy string': fill(n => JSON.stringify({ args: ['\\"'.repeat(n)] }))
    }
    for (const [what, body] of Object.entries(bodies)) {
      t.ok(body.length > MAX_BODY_BYTES * 0.95 && body.length <= MAX_BODY_BYTES, `${what}: ${(body.length / 1024).toFixed(0)} KiB`)
      const [plain, strict] = medianMs(() => JSON.parse(body.toString('utf8')), () => parseStrictJson(body), 15)
      t.comment(`${what}: JSON.parse ${plain.toFixed(2)} ms, strict ${strict.toFixed(2)} ms (+${(strict - plain).toFixed(2)} ms)`)
      // A ratio, not a time (the machine is shared): a parse that went quadratic on 256 KiB would be thousands of times slower.
      t.ok(strict < 30 * plain, `${what}: strict parse ${(strict / plain).toFixed(1)} times JSON.parse`)
    }
  })
}
