import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { copiesOf, envOf, execForm, instructions, lastValue, parseDockerfile, type Stage } from './dockerfile.js'
import { repoRoot } from './stubs.js'

// docs/api.md, How it starts: the containers' entry points.
const images = [
  { file: 'Dockerfile.api', entry: ['node', 'dist/api/server.js'] },
  { file: 'Dockerfile.job', entry: ['node', 'dist/job/main.js'] }
]

const read = (file: string): string => readFileSync(join(repoRoot, file), 'utf8')

function runCommands (stage: Stage): string[] {
  return instructions(stage, 'RUN').flatMap(({ args }) => args.split('&&').map(part => part.trim()))
}

for (const { file, entry } of images) {
  t.test(file, async t => {
    const stages = parseDockerfile(read(file))
    const stageNames = new Set(stages.flatMap(stage => stage.name === undefined ? [] : [stage.name]))
    const runtime = stages.at(-1) as Stage
    const builders = stages.slice(0, -1)

    t.ok(stages.length >= 2, 'multi-stage: at least two FROM')
    for (const stage of stages.filter(stage => !stageNames.has(stage.image))) {
      const match = /^(?<name>[^:@]+)(?::(?<tag>[^@]+))?(?:@(?<digest>sha256:[0-9a-f]{64}))?$/.exec(stage.image)
      const tag = match?.groups?.tag ?? ''
      t.match(tag, /^\d+\.\d+\.\d+(-[a-z0-9.-]+)?$/, `${stage.image}: pinned by a full version tag`)
      t.notMatch(tag, /latest/, `${stage.image}: not latest`)
    }
    t.match(runtime.image, /slim|distroless/, 'the runtime base is slim or distroless')

    t.ok(builders.some(stage => runCommands(stage).some(command => /^npm ci\b/.test(command))), 'the build stage runs npm ci')
    t.ok(builders.some(stage => runCommands(stage).includes('npm run build')), 'the build stage runs npm run build')

    const runtimeNpm = runCommands(runtime).filter(command => command.startsWith('npm '))
    t.ok(runtimeNpm.some(command => /^npm ci\b.*--omit=dev/.test(command)), 'the runtime stage installs production dependencies only')
    t.notOk(runtimeNpm.some(command => /^npm (install|i|run)\b/.test(command)), 'and nothing else with npm')
    const copies = copiesOf(runtime)
    t.same(copies.filter(copy => copy.from === undefined).flatMap(copy => copy.sources).sort(), ['package-lock.json', 'package.json'],
      'from the context only package.json and package-lock.json')
    t.same(copies.filter(copy => copy.from !== undefined).map(copy => copy.sources.map(source => source.replace(/^.*\//, ''))),
      [['dist']], 'from the build stage only dist/')

    t.equal(envOf(runtime).NODE_ENV, 'production', 'NODE_ENV=production')
    const user = lastValue(runtime, 'USER')
    t.ok(user !== undefined && !/^(root|0)(:|$)/.test(user), `runs as a non-root user (${user})`)
    for (const keyword of ['CMD', 'ENTRYPOINT']) {
      for (const { args } of instructions(runtime, keyword)) t.ok(execForm(args), `${keyword} ${args} is in exec form`)
    }
    t.same(execForm(lastValue(runtime, 'ENTRYPOINT') ?? ''), entry, `ENTRYPOINT is the contract's ${entry.join(' ')}`)
    // With an ENTRYPOINT and no CMD, Cloud Run's args (and a run's args override) become the program's arguments.
    t.same(execForm(lastValue(runtime, 'CMD') ?? '[]'), [], 'no CMD to collide with args overrides')
  })
}

t.test('both images share one runtime recipe apart from the entry point', async t => {
  const [api, job] = images.map(({ file }) => parseDockerfile(read(file)))
  const withoutEntry = (stages: Stage[] | undefined): Stage[] => (stages ?? []).map(stage => ({
    ...stage, instructions: stage.instructions.filter(instruction => instruction.keyword !== 'ENTRYPOINT' && instruction.keyword !== 'EXPOSE')
  }))
  t.same(withoutEntry(job), withoutEntry(api), 'so the runtime-files test of one covers both')
})

t.test('the API image starts what `npm start` starts', async t => {
  const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> }
  t.equal(pkg.scripts.start, images[0]?.entry.join(' '))
})

t.test('.dockerignore keeps dependencies, tests, git and local files out of the context', async t => {
  const patterns = read('.dockerignore').split('\n').map(line => line.trim()).filter(line => line !== '' && !line.startsWith('#'))
  for (const pattern of ['node_modules', 'test', '.git', 'dist', 'coverage', '.env']) {
    t.ok(patterns.includes(pattern), `excludes ${pattern}`)
  }
  t.notOk(patterns.some(pattern => pattern.startsWith('!')), 'no re-inclusions')
  for (const needed of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'api', 'job']) {
    t.notOk(patterns.includes(needed), `keeps ${needed}, which the build needs`)
  }
})

t.test('the Dockerfile reader', async t => {
  const stages = parseDockerfile([
    '# syntax=docker/dockerfile:1',
    'ARG BASE=node:1.2.3-slim',
    'FROM --platform=linux/amd64 node:1.2.3 AS build',
    'RUN a \\',
    '  # a comment inside a continuation',
    '  && b',
    'ENV A=1 B="two words"',
    'ENV LEGACY value here',
    'FROM build',
    'COPY --from=build --chown=node /app/dist ./dist',
    'CMD node x.js'
  ].join('\n'))
  t.same(stages.map(stage => [stage.image, stage.name]), [['node:1.2.3', 'build'], ['build', undefined]])
  t.same(instructions(stages[0] as Stage, 'RUN')[0]?.args, 'a    && b')
  t.same(envOf(stages[0] as Stage), { A: '1', B: 'two words', LEGACY: 'value here' })
  t.same(copiesOf(stages[1] as Stage), [{ from: 'build', sources: ['/app/dist'], destination: './dist' }])
  t.equal(execForm('node x.js'), undefined)
  t.equal(execForm('[1]'), undefined)
  t.throws(() => parseDockerfile('RUN x'), /RUN before the first FROM/)
  t.same(parseDockerfile('FROM a \\\n').map(stage => stage.image), ['a'], 'a trailing continuation ends the file')
})
