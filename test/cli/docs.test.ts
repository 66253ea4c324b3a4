// The README and docs/ci.md say what the CLI and the action are: every command, its usage, every action input.
import { readdirSync, readFileSync } from 'node:fs'
import t from 'tap'
import { actionInputs, actionOutputs } from '../../action/inputs.js'
import { commandNames } from '../../cli/command-table.js'
import { usageLine } from '../../cli/help.js'

const read = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8')
const readme = read('README.md')
const ci = read('docs/ci.md')
const docs = ['README.md', ...readdirSync(new URL('../../docs/', import.meta.url)).filter(name => name.endsWith('.md')).map(name => `docs/${name}`)]

t.test('docs/ci.md\'s "Everything the CLI can do" is the usage of every command, as --help prints it', async t => {
  const block = /## Everything the CLI can do\n\n```\n([\s\S]*?)\n```/.exec(ci)?.[1]
  t.equal(block, commandNames.map(usageLine).join('\n'))
})

t.test('the README\'s table lists every command, and nothing else', async t => {
  const listed = [...readme.matchAll(/^\| `jobgate (\w+)[^`]*` \|/gm)].map(match => match[1])
  t.same(listed, commandNames)
})

t.test('docs/ci.md lists every input and output of the action', async t => {
  const inputs = [...ci.matchAll(/^\| `([\w-]+)` \| .* \| .* \|$/gm)].map(match => match[1]).filter(name => name !== undefined && name in actionInputs)
  t.same(inputs, Object.keys(actionInputs))
  for (const output of Object.keys(actionOutputs)) t.match(ci, `\`${output}\``, `output ${output}`)
})

t.test('no command in the docs runs `npx jobgate`: outside a checkout it would fetch a stranger\'s package', async t => {
  for (const path of docs) {
    const blocks = [...read(path).matchAll(/```[^\n]*\n([\s\S]*?)```/g)].map(match => match[1] ?? '')
    t.same(blocks.filter(block => /\bnpx\s+(?:(?:-y|--yes)\s+)?jobgate\b/.test(block)), [], path)
  }
})
