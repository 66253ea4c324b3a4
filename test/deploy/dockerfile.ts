// A small Dockerfile reader: enough to check the stages and to replay the runtime stage.

export interface Instruction {
  keyword: string // upper case: FROM, RUN, COPY, ...
  args: string
}

export interface Stage {
  image: string // what FROM names: an image reference or an earlier stage
  name?: string
  instructions: Instruction[] // after FROM
}

export function parseDockerfile (text: string): Stage[] {
  const logical: string[] = []
  let pending = ''
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd()
    if (pending === '' && /^\s*(#|$)/.test(line)) continue
    if (pending !== '' && /^\s*#/.test(line)) continue // comment lines inside a continuation are dropped
    if (line.endsWith('\\')) { pending += line.slice(0, -1) + ' '; continue }
    logical.push((pending + line).trim())
    pending = ''
  }
  if (pending.trim() !== '') logical.push(pending.trim())

  const stages: Stage[] = []
  for (const line of logical) {
    const match = /^(\S+)\s*(.*)$/.exec(line)
    const keyword = (match?.[1] ?? '').toUpperCase()
    const args = match?.[2] ?? ''
    if (keyword === 'FROM') {
      const [image = '', as, name] = args.split(/\s+/).filter(word => !word.startsWith('--platform'))
      stages.push({ image, ...(as?.toUpperCase() === 'AS' && name !== undefined ? { name } : {}), instructions: [] })
      continue
    }
    const stage = stages.at(-1)
    if (stage === undefined) {
      if (keyword === 'ARG') continue // an ARG before the first FROM is allowed
      throw new Error(`${keyword} before the first FROM`)
    }
    stage.instructions.push({ keyword, args })
  }
  return stages
}

// The JSON array of an exec-form CMD/ENTRYPOINT/RUN, or undefined for the shell form.
export function execForm (args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined
  const parsed: unknown = JSON.parse(args)
  return Array.isArray(parsed) && parsed.every(item => typeof item === 'string') ? parsed : undefined
}

export function instructions (stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter(instruction => instruction.keyword === keyword)
}

export function lastValue (stage: Stage, keyword: string): string | undefined {
  return instructions(stage, keyword).at(-1)?.args
}

// ENV in either form: `ENV A=1 B=2` or the legacy `ENV A 1`.
export function envOf (stage: Stage): Record<string, string> {
  const env: Record<string, string> = {}
  for (const { args } of instructions(stage, 'ENV')) {
    if (!args.includes('=')) {
      const [name = '', ...rest] = args.split(/\s+/)
      env[name] = rest.join(' ')
      continue
    }
    for (const pair of args.match(/(\S+?)=("[^"]*"|\S*)/g) ?? []) {
      const index = pair.indexOf('=')
      env[pair.slice(0, index)] = pair.slice(index + 1).replace(/^"(.*)"$/, '$1')
    }
  }
  return env
}

export interface Copy {
  from?: string // a stage name, for COPY --from=
  sources: string[]
  destination: string
}

export function copiesOf (stage: Stage): Copy[] {
  return instructions(stage, 'COPY').map(({ args }) => {
    const words = args.split(/\s+/)
    const flags = words.filter(word => word.startsWith('--'))
    const paths = words.filter(word => !word.startsWith('--'))
    const from = flags.find(flag => flag.startsWith('--from='))?.slice('--from='.length)
    return { ...(from === undefined ? {} : { from }), sources: paths.slice(0, -1), destination: paths.at(-1) ?? '' }
  })
}
