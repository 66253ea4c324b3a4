/**
 * The docs' blocks that talk to a local jobgate (http://127.0.0.1:8080, what `npm start` serves) run, step by
 * step, against jobgate in local mode: each command must succeed, and what the docs show under it as its
 * answer (`# HTTP/1.1 202 …`, `# location: …`, `# {"state":"SUCCEEDED",…}`, `# … exits 1`) must be what it
 * answers. Run names the docs make up (`echo-x7k2p`) stand for the run the step that shows them created.
 */
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { build } from '../helper.js'
import { docShellBlocks, repoRoot, shellCommands } from './shell-blocks.js'

const LOCAL_URL = 'http://127.0.0.1:8080'
const RUN_NAME = /\becho-[a-z0-9]{5}\b/g

interface Step {
  /** The command, continuation lines joined as the shell joins them. */
  command: string
  /** The answer the docs show under it, one line each, without `# `. */
  shown: string[]
  /** The command line's own trailing comment. */
  note: string
}

/** A block's commands, each with the comment lines right under it that show its answer. */
function stepsOf (text: string): Step[] {
  const steps: Step[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i] ?? ''
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1)}${lines[++i] ?? ''}`
    const note = / {2,}# (.*)$/.exec(line)?.[1] ?? ''
    const shown: string[] = []
    while (/^# (HTTP\/|[a-z-]+: |\{)/.test(lines[i + 1] ?? '')) shown.push((lines[++i] ?? '').slice(2))
    steps.push({ command: line, shown, note })
  }
  return steps
}

/** `"key":value` pairs of the JSON the docs show (they elide the rest with `...`). */
const shownPairs = (shown: string): string[] => [...shown.matchAll(/"[A-Za-z]+":("[^"]*"|-?\d+|true|false|null)/g)].map(match => match[0])

/** Runs bash without blocking this process: the jobgate it talks to answers from here. */
async function bash (script: string): Promise<{ status: number | null, stdout: string, stderr: string }> {
  return await new Promise(resolve => {
    execFile('bash', ['-c', script], { encoding: 'utf8', timeout: 120_000, env: { PATH: process.env.PATH ?? '', HOME: repoRoot } }, (error, stdout, stderr) => {
      resolve({ status: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr })
    })
  })
}

const blocks = docShellBlocks().filter(block => shellCommands(block.text).some(({ argv }) => argv.some(word => word.includes(LOCAL_URL))))
const bin = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin.jobgate ?? ''

t.test('the blocks that talk to a local jobgate run as written', async t => {
  t.ok(blocks.length >= 3, `${blocks.length} local blocks: ${blocks.map(block => `${block.file}:${block.line}`).join(', ')}`)
  // `npm start` with nothing set: local mode, the embedded emulator, the echo job.
  const { url } = await build(t, { env: {}, listen: true })
  for (const block of blocks) {
    const names = new Map<string, string>()
    const exports: string[] = []
    for (const step of stepsOf(block.text)) {
      const ours = (text: string): string => text.replaceAll(LOCAL_URL, url).replace(RUN_NAME, name => names.get(name) ?? name)
      const command = ours(step.command)
      if (command.startsWith('export ')) { exports.push(command); continue }
      const expectsError = step.shown.some(line => line.includes('"error"'))
      // A stream the docs stop with Ctrl-C is followed for a few seconds: curl's own time limit (exit 28) ends it.
      const endless = step.note.includes('Ctrl-C to stop')
      const shell = [
        // npx finds the repository's own bin; curl fails on an error answer the docs do not show.
        `jobgate () { node ${JSON.stringify(join(repoRoot, bin))} "$@"; }`,
        'npx () { if [ "$1" = jobgate ]; then shift; fi; jobgate "$@"; }',
        ...(expectsError ? [] : [`curl () { command curl --fail-with-body --no-progress-meter ${endless ? '--max-time 3 ' : ''}"$@"; }`]),
        ...exports,
        command
      ].join('\n')
      const result = await bash(shell)
      const at = `${block.file}:${block.line}: ${step.command.slice(0, 100)}`
      t.equal(result.status, endless ? 28 : 0, at, { stdout: result.stdout, stderr: result.stderr })
      for (const placeholder of step.shown.join('\n').match(RUN_NAME) ?? []) {
        const real = /"name":"([a-z0-9-]+)"/.exec(result.stdout)?.[1]
        if (!names.has(placeholder) && real !== undefined) names.set(placeholder, real)
      }
      for (const line of step.shown.map(ours)) {
        if (line.startsWith('HTTP/')) t.match(result.stdout, line.split(' ').slice(0, 2).join(' '), `${at}: ${line}`)
        else if (!line.startsWith('{')) t.match(result.stdout.toLowerCase(), line.toLowerCase(), `${at}: ${line}`)
        for (const pair of shownPairs(line)) t.match(result.stdout, pair, `${at}: ${pair}`)
      }
      const exit = /exits (\d+)/.exec(step.note)?.[1]
      if (exit !== undefined) t.match(result.stdout, `exit ${exit}`, `${at}: ${step.note}`)
    }
  }
})
