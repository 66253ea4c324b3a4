import { join } from 'node:path'
import t, { type Test } from 'tap'
import { flag, inlineOrFile, list, oneOf, text, wholeNumber } from '../../api/env.js'

/** Asserts `read` refuses with a ConfigError naming `variable`, in one line, the whole message being `message`. */
function refuses (t: Test, read: () => unknown, variable: string, message: string): void {
  t.throws(read, { name: 'ConfigError', variable, message }, message)
}

t.test('text: unset, empty and whitespace-only are not set; anything else is taken exactly as written', async t => {
  t.equal(text({}, 'A'), undefined)
  t.equal(text({ A: undefined }, 'A'), undefined)
  t.equal(text({ A: '' }, 'A'), undefined)
  t.equal(text({ A: '  \t\n' }, 'A'), undefined)
  t.equal(text({ A: ' x ' }, 'A'), ' x ', 'not trimmed')
  t.equal(text({ A: 'x' }, 'B'), undefined)
})

t.test('wholeNumber: digits only, within its bounds; not set is the fallback', async t => {
  const range = { fallback: 7, min: 1, max: 100 }
  t.equal(wholeNumber({}, 'N', range), 7)
  t.equal(wholeNumber({ N: ' ' }, 'N', range), 7, 'blank is not set')
  t.equal(wholeNumber({ N: '1' }, 'N', range), 1)
  t.equal(wholeNumber({ N: '100' }, 'N', range), 100)
  t.equal(wholeNumber({ N: '0' }, 'N', { fallback: 5, min: 0 }), 0)
  for (const bad of ['0', '101', '-1', '1.5', '1e2', '0x10', ' 5', '5 ', 'five', '+5', '5\n']) {
    refuses(t, () => wholeNumber({ N: bad }, 'N', range), 'N', `N: must be a whole number from 1 to 100, not ${JSON.stringify(bad)}`)
  }
  refuses(t, () => wholeNumber({ N: '99999999999999999999' }, 'N', { fallback: 1, min: 1 }), 'N', 'N: must be a whole number ≥ 1, not "99999999999999999999"')
  t.equal(wholeNumber({ N: String(Number.MAX_SAFE_INTEGER) }, 'N', { fallback: 1, min: 1 }), Number.MAX_SAFE_INTEGER)
})

t.test('oneOf and flag: exactly one of the listed words', async t => {
  const colours = ['red', 'green'] as const
  t.equal(oneOf({}, 'C', colours), undefined)
  t.equal(oneOf({ C: '' }, 'C', colours), undefined)
  t.equal(oneOf({ C: 'green' }, 'C', colours), 'green')
  refuses(t, () => oneOf({ C: 'Green' }, 'C', colours), 'C', 'C: must be "red" or "green", not "Green"')
  refuses(t, () => oneOf({ C: ' red' }, 'C', colours), 'C', 'C: must be "red" or "green", not " red"')
  refuses(t, () => oneOf({ C: 'blue' }, 'C', ['red', 'green', 'blue!']), 'C', 'C: must be one of "red", "green", "blue!", not "blue"')
  t.equal(flag({}, 'F'), false)
  t.equal(flag({ F: 'false' }, 'F'), false)
  t.equal(flag({ F: 'true' }, 'F'), true)
  refuses(t, () => flag({ F: 'yes' }, 'F'), 'F', 'F: must be "true" or "false", not "yes"')
  refuses(t, () => flag({ F: 'true\nfalse' }, 'F'), 'F', 'F: must be "true" or "false", not "true\\nfalse"')
})

t.test('list: comma-separated, each entry trimmed, no empty entry', async t => {
  t.equal(list({}, 'L'), undefined)
  t.equal(list({ L: ' ' }, 'L'), undefined)
  t.same(list({ L: 'a' }, 'L'), ['a'])
  t.same(list({ L: ' a , b,a ' }, 'L'), ['a', 'b', 'a'], 'duplicates are the caller\'s to judge')
  for (const bad of ['a,,b', 'a,', ',a', 'a, ,b']) refuses(t, () => list({ L: bad }, 'L'), 'L', 'L: has an empty entry in the comma list')
})

t.test('inlineOrFile: NAME or NAME_FILE, never both', async t => {
  const dir = t.testdir({ 'setting.json': '{"from":"file"}\n' })
  const file = join(dir, 'setting.json')
  t.equal(inlineOrFile({}, 'S'), undefined)
  t.equal(inlineOrFile({ S: ' ', S_FILE: '' }, 'S'), undefined, 'blank is not set, for both forms')
  t.same(inlineOrFile({ S: '{"from":"env"}' }, 'S'), { text: '{"from":"env"}', variable: 'S' })
  t.same(inlineOrFile({ S_FILE: file }, 'S'), { text: '{"from":"file"}\n', variable: 'S_FILE' }, 'the file as written; its parser names S_FILE')
  t.same(inlineOrFile({ S: '', S_FILE: file }, 'S'), { text: '{"from":"file"}\n', variable: 'S_FILE' }, 'an empty S is not set')
  refuses(t, () => inlineOrFile({ S: '{}', S_FILE: file }, 'S'), 'S', 'S: set either S or S_FILE, not both')
  refuses(t, () => inlineOrFile({ S: '{}', S_FILE: join(dir, 'missing') }, 'S'), 'S', 'S: set either S or S_FILE, not both')
  refuses(t, () => inlineOrFile({ S_FILE: join(dir, 'missing') }, 'S'), 'S_FILE', `S_FILE: cannot read ${join(dir, 'missing')} (ENOENT)`)
  refuses(t, () => inlineOrFile({ S_FILE: dir }, 'S'), 'S_FILE', `S_FILE: cannot read ${dir} (EISDIR)`)
})
