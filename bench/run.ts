/**
 * `npm run bench [-- --only startup,load] [--samples 10] [--load-seconds 60] [--soak-seconds 300] [--quick] [--compare A/api/server.js,…]`
 * Runs every scenario in bench/scenarios/ (each file exports `scenario`; adding a file registers it)
 * and prints one markdown table per scenario: each figure beside its anchor from the same run.
 */
import { readdirSync } from 'node:fs'
import { availableParallelism, loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { benchFlags } from './flags.js'
import type { BenchOptions, Row, Scenario } from './scenario.js'

const { values } = parseArgs({ options: benchFlags })
const quick = values.quick === true
const options: BenchOptions = {
  samples: Number(values.samples ?? (quick ? 5 : 10)),
  loadSeconds: Number(values['load-seconds'] ?? (quick ? 10 : 60)),
  soakSeconds: Number(values['soak-seconds'] ?? (quick ? 0 : 300)),
  ...(values.compare !== undefined && { compare: values.compare.split(',') })
}

const directory = new URL('./scenarios/', import.meta.url)
const scenarios: Scenario[] = []
for (const file of readdirSync(directory).filter(name => name.endsWith('.js')).sort()) {
  scenarios.push((await import(new URL(file, directory).href) as { scenario: Scenario }).scenario)
}
const only = values.only?.split(',')
const selected = only === undefined ? scenarios : scenarios.filter(scenario => only.includes(scenario.name))
if (selected.length === 0) throw new Error(`no scenario named ${values.only ?? ''}; there are: ${scenarios.map(s => s.name).join(', ')}`)

const cell = (text: string | undefined): string => (text ?? '').replaceAll('|', '\\|')
const print = (line: string): void => { process.stdout.write(`${line}\n`) }

print(`node ${process.version}, ${availableParallelism()} CPUs, load average ${loadavg().map(n => n.toFixed(1)).join(' ')} at the start (a shared machine: compare ratios, not absolute figures)`)
print(`options: ${JSON.stringify(options)}`)
let missed = 0
for (const scenario of selected) {
  const rows: Row[] = await scenario.run(options)
  print(`\n### ${scenario.name}: ${scenario.about}\n`)
  print('| measure | value | beside it, same run | goal |')
  print('| --- | --- | --- | --- |')
  for (const row of rows) {
    if (row.goal?.met === false) missed++
    const goal = row.goal === undefined ? '' : `${row.goal.met ? 'met' : '**missed**'}: ${row.goal.text}`
    print(`| ${cell(row.measure)} | ${cell(row.value)} | ${cell(row.anchor)} | ${cell(goal)} |`)
  }
}
print(`\n${missed === 0 ? 'every goal met' : `${missed} goal(s) missed`} in this run`)
