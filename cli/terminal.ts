/** Where the CLI writes: data lines on stdout, human lines on stderr, and (on a TTY) one status line redrawn in place. */

export interface TextSink {
  write: (chunk: string) => unknown
}

/** Carriage return + erase the whole line: the start of every in-place redraw. */
export const clearLine = '\r\x1b[2K'

export class Terminal {
  readonly isTTY: boolean
  readonly #stdout: TextSink
  readonly #stderr: TextSink
  readonly #columns: number | undefined
  #status: string | undefined

  constructor (stdout: TextSink, stderr: TextSink, isTTY: boolean, columns?: number) {
    this.#stdout = stdout
    this.#stderr = stderr
    this.isTTY = isTTY
    this.#columns = columns
  }

  /** Draws (TTY) the status line, replacing the previous one. */
  showStatus (text: string): void {
    this.#status = text
    this.#stderr.write(ttyFrame(text, this.#columns))
  }

  /** Leaves the last status on screen and moves below it. */
  commitStatus (): void {
    if (this.#status === undefined) return
    this.#status = undefined
    this.#stderr.write('\n')
  }

  /** Erases the status line and forgets it (e.g. before a prompt). */
  clearStatus (): void {
    if (this.#status === undefined) return
    this.#status = undefined
    this.#stderr.write(clearLine)
  }

  /** A human line on stderr. */
  err (line: string): void {
    this.#around(() => this.#stderr.write(`${line}\n`))
  }

  /** A data line on stdout. */
  out (line: string): void {
    this.#around(() => this.#stdout.write(`${line}\n`))
  }

  /** Raw text on stderr without newline or redraw (prompts). */
  prompt (text: string): void {
    this.clearStatus()
    this.#stderr.write(text)
  }

  // Lifts the status line out of the way of a printed line, then puts it back below.
  #around (write: () => void): void {
    const status = this.#status
    if (status !== undefined) this.#stderr.write(clearLine)
    write()
    if (status !== undefined) this.#stderr.write(ttyFrame(status, this.#columns))
  }
}

/** One redraw of the status line, cut to the terminal width so it never wraps (a wrapped line cannot be redrawn). */
export function ttyFrame (text: string, columns?: number): string {
  const width = columns !== undefined && columns > 1 ? columns - 1 : undefined
  const fitted = width !== undefined && text.length > width ? `${text.slice(0, Math.max(0, width - 1))}…` : text
  return `${clearLine}${fitted}`
}
