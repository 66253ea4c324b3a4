/** The fenced shell blocks of the docs, split into the commands a shell would run (enough of sh for the docs). */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'

export const repoRoot = join(import.meta.dirname, '..', '..')

export interface ShellBlock {
  /** Path from the repository root. */
  file: string
  /** Line of the opening fence. */
  line: number
  text: string
}

/** Every ```sh / ```bash / ```shell block of README.md, docs/*.md and emulator/README.md. */
export function docShellBlocks (): ShellBlock[] {
  const files = ['README.md', 'emulator/README.md', ...readdirSync(join(repoRoot, 'docs')).filter(name => name.endsWith('.md')).map(name => `docs/${name}`)]
  return files.flatMap(file => {
    const markdown = readFileSync(join(repoRoot, file), 'utf8')
    return [...markdown.matchAll(/^```(?:sh|bash|shell)\b[^\n]*\n([\s\S]*?)^```/gm)].map(match => ({
      file: relative(repoRoot, join(repoRoot, file)),
      line: markdown.slice(0, match.index).split('\n').length,
      text: match[1] ?? ''
    }))
  })
}

/** Words that start a compound command or modify the next one: the command is what follows. */
const LEADING_KEYWORDS = new Set(['do', 'then', 'else', 'elif', 'if', 'while', 'until', '!', 'time', 'exec', '{'])

export interface ShellCommand {
  /** The command's words, quotes removed; a command substitution reads `$(…)` (its commands are listed on their own). */
  argv: string[]
  /** `NAME=value` words before the command. */
  assignments: string[]
}

/** The simple commands of a shell text, in order, including those inside `$(…)`; comments and redirections dropped. */
export function shellCommands (text: string): ShellCommand[] {
  const commands: ShellCommand[] = []
  let words: string[] = []
  let word: string | undefined
  let redirected = false
  const endWord = (): void => {
    if (word !== undefined && !redirected) words.push(word)
    if (word !== undefined) redirected = false
    word = undefined
  }
  const endCommand = (): void => {
    endWord()
    while (words.length > 0 && LEADING_KEYWORDS.has(words[0] ?? '')) words.shift()
    const assignments: string[] = []
    while (words.length > 0 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0] ?? '')) assignments.push(words.shift() ?? '')
    if (words.length > 0 || assignments.length > 0) commands.push({ argv: words, assignments })
    words = []
  }
  const substitution = (start: number): number => {
    const end = closingParen(text, start + 1)
    commands.push(...shellCommands(text.slice(start + 2, end)))
    word = `${word ?? ''}$(…)`
    return end + 1
  }
  for (let i = 0; i < text.length;) {
    const c = text[i] ?? ''
    if (c === '\\') {
      if (text[i + 1] !== '\n') word = `${word ?? ''}${text[i + 1] ?? ''}`
      i += 2
    } else if (c === '\'') {
      const end = text.indexOf('\'', i + 1)
      word = `${word ?? ''}${text.slice(i + 1, end)}`
      i = end + 1
    } else if (c === '"') {
      word ??= ''
      for (i++; i < text.length && text[i] !== '"';) {
        if (text[i] === '\\' && '"\\$`'.includes(text[i + 1] ?? '')) {
          word += text[i + 1]
          i += 2
        } else if (text.startsWith('$(', i)) {
          i = substitution(i)
        } else {
          word += text[i]
          i++
        }
      }
      i++
    } else if (text.startsWith('$(', i)) {
      i = substitution(i)
    } else if (c === '#' && word === undefined) {
      while (i < text.length && text[i] !== '\n') i++
    } else if (c === '>' || c === '<') {
      if (word !== undefined && /^\d+$/.test(word)) word = undefined // the fd of `2>`
      endWord()
      for (i++; text[i] === '>' || text[i] === '&'; i++);
      redirected = true // the next word is the target
    } else if (c === ' ' || c === '\t') {
      endWord()
      i++
    } else if ('\n;|&()'.includes(c)) {
      endCommand()
      i++
    } else {
      word = `${word ?? ''}${c}`
      i++
    }
  }
  endCommand()
  return commands
}

/** Index of the `)` closing the `(` at `open`, across quotes and nested parentheses. */
function closingParen (text: string, open: number): number {
  let depth = 0
  for (let i = open; i < text.length; i++) {
    const c = text[i]
    if (c === '\'') i = text.indexOf('\'', i + 1)
    else if (c === '(') depth++
    else if (c === ')' && --depth === 0) return i
  }
  throw new Error(`unbalanced $( in: ${text.slice(open - 1, open + 60)}`)
}
