// action.yml and the action's committed bundle: what the runner reads must be what the sources say.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { build, type BuildOptions } from 'esbuild'
import t from 'tap'
import { actionInputs, actionOutputs } from '../../action/inputs.js'
import { actionYml, REPO } from './runner.js'

const { bundles } = await import('../../scripts/cli-bundles.mjs' as string) as { bundles: Record<'action', BuildOptions & { outfile: string }> }

/** The action's bundle as scripts/build-cli.mjs would write it now, in memory. */
async function freshBundle (): Promise<string> {
  const result = await build({ ...bundles.action, write: false })
  return result.outputFiles[0]?.text ?? ''
}

t.test('action.yml declares exactly the inputs and outputs the action reads and writes', async t => {
  const yml = actionYml()
  t.same(Object.keys(yml.inputs), Object.keys(actionInputs), 'the inputs, in order')
  for (const [name, spec] of Object.entries(actionInputs)) {
    const declared = yml.inputs[name]
    t.equal(declared?.description, spec.description, `${name}: description`)
    t.equal(declared?.required ?? false, 'required' in spec, `${name}: required`)
    t.equal(declared?.default, 'default' in spec ? spec.default : undefined, `${name}: default`)
  }
  t.same(Object.fromEntries(Object.entries(yml.outputs).map(([name, output]) => [name, output.description])), actionOutputs)
  t.match(yml.runs, { using: /^node(20|24)$/, main: 'action/dist/index.mjs' })
  t.equal(yml.runs.main, bundles.action.outfile, 'runs.main is the bundle the build writes')
})

t.test('the committed bundle is what a fresh build of action/ and cli/ gives, and the build is deterministic', async t => {
  const committed = readFileSync(join(REPO, bundles.action.outfile), 'utf8')
  const [first, second] = [await freshBundle(), await freshBundle()]
  t.equal(first, second, 'two builds, the same bytes')
  t.ok(first === committed, `${bundles.action.outfile} is stale: run \`npm run build\` and commit it (action.yml runs it as it is)`)
  t.notMatch(committed, REPO, 'no path of this checkout in it')
})
