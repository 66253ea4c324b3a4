import t from 'tap'
import { runRequestProblem } from '../../api/runs/request-check.js'

t.test('a well-formed request passes as it is', async t => {
  const request = { args: ['a', '€'.repeat(1365), 'x'.repeat(4096)], env: { _A1: 'x', a: 'y'.repeat(32 * 1024) }, clearArgs: false, taskCount: 3, timeoutSeconds: 60 }
  t.equal(runRequestProblem(request), undefined)
  t.equal(runRequestProblem({}), undefined)
})

t.test('each rule, in the words every trigger answers with (the 400s: test/events/run-request-routes.test.ts)', async t => {
  const cases: Array<[unknown, string | RegExp]> = [
    [{ colour: 'red' }, 'body: unknown field "colour"'],
    [null, /^body: /],
    [[], /^body: /],
    [{ args: 'x' }, /^args: /],
    [{ args: [1] }, /^args\[0\]: /],
    [{ args: new Array<string>(1001).fill('a') }, /^args: /],
    [{ env: ['A'] }, /^env: /],
    [{ env: { A: 1 } }, /^env\.A: /],
    [{ taskCount: 0 }, /^taskCount: /],
    [{ timeoutSeconds: 1.5 }, /^timeoutSeconds: /],
    [{ clearArgs: 'yes' }, /^clearArgs: /],
    [{ env: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`V${i}`, 'x'])) }, /^env: /],
    // Names: POSIX, at most 255 characters, never a key that reaches an object's prototype.
    ...['TENANT-ID', '1ABC', 'A B', '', 'É', 'A.B', 'A'.repeat(256), 'A\u0000', '__proto__', 'constructor']
      .map((name): [unknown, string] => [JSON.parse(JSON.stringify({ env: { [name]: 'x' } })), `env.${name.length > 64 ? `${name.slice(0, 64)}…` : name}: not a valid variable name`]),
    // NUL characters, and bounds in UTF-8 bytes: 2,000 three-byte characters are 2,000 characters but 6,000 bytes.
    [{ args: ['ok', 'a\u0000b'] }, 'args[1]: contains a NUL character'],
    [{ env: { A: 'x\u0000' } }, 'env.A: contains a NUL character'],
    [{ args: ['€'.repeat(2000)] }, 'args[0]: larger than 4 KiB'],
    [{ args: ['x'.repeat(4097)] }, 'args[0]: larger than 4 KiB'],
    [{ env: { A: '€'.repeat(11_000) } }, 'env.A: value is larger than 32 KiB'],
    [{ env: { A: 'v'.repeat(32 * 1024 + 1) } }, 'env.A: value is larger than 32 KiB']
  ]
  for (const [value, message] of cases) {
    const label = JSON.stringify(value)?.slice(0, 60) ?? String(value)
    if (typeof message === 'string') t.equal(runRequestProblem(value), message, label)
    else t.match(runRequestProblem(value), message, label)
  }
})

t.test('__proto__ as a name is refused even where it became an own property', async t => {
  const env = Object.defineProperty({}, '__proto__', { value: 'x', enumerable: true })
  t.equal(runRequestProblem({ env }), 'env.__proto__: not a valid variable name')
})
