import t from 'tap'
import { formatCursor, parseCursor, resumeIndex, sseEvent } from '../../api/live/sse.js'
import { ApiError } from '../../api/errors.js'

const entries = [
  { timestamp: 't1', severity: 'INFO', message: 'one', insertId: 'aaa' },
  { timestamp: 't2', severity: 'INFO', message: 'two', insertId: 'bbb' },
  { timestamp: 't3', severity: 'INFO', message: 'three' }
]

t.test('events are one JSON line each, with the id first', async t => {
  t.equal(sseEvent('run', { a: 'x\ny' }), 'event: run\ndata: {"a":"x\\ny"}\n\n', 'a newline in a value stays escaped inside the JSON')
  t.equal(sseEvent('log', { m: 1 }, '1.aaa'), 'id: 1.aaa\nevent: log\ndata: {"m":1}\n\n')
})

t.test('cursors: position and insertId; a resume finds the insertId first, else the position', async t => {
  t.equal(formatCursor(1, entries[0]!), '1.aaa')
  t.equal(formatCursor(3, entries[2]!), '3', 'no insertId: the position alone')
  t.equal(formatCursor(4, { ...entries[0]!, insertId: 'with space' }), '4', 'an insertId that is not a plain token is left out')
  t.equal(parseCursor(undefined), undefined)
  t.equal(parseCursor(''), undefined)
  t.same(parseCursor('2.bbb'), { position: 2, insertId: 'bbb' })
  t.same(parseCursor('3'), { position: 3 })
  t.equal(resumeIndex(entries, undefined), 0)
  t.equal(resumeIndex(entries, { position: 1, insertId: 'bbb' }), 2, 'the insertId wins over a position from another instance')
  t.equal(resumeIndex(entries, { position: 2, insertId: 'zzz' }), 2, 'an insertId not held here: the position')
  t.equal(resumeIndex(entries, { position: 99 }), 3, 'never past the end')
})

t.test('a malformed Last-Event-ID is a 400 in the contract\'s shape', async t => {
  for (const bad of ['x', '-1', '1.', '1.a b', '1'.repeat(10), ['1', '2'] as unknown as string, `1.${'a'.repeat(129)}`]) {
    const error = t.throws(() => parseCursor(bad)) as ApiError
    t.equal(error.httpCode, 400, JSON.stringify(bad))
    t.match(error.toBody(), { error: { code: 400, status: 'INVALID_ARGUMENT', message: /Last-Event-ID/ } })
  }
})
