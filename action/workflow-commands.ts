import { randomUUID } from 'node:crypto'
import type { TextSink } from '../cli/terminal.js'

/** The runner reads these characters as the end of a command's message or property: escaped as @actions/core does. */
const escapeData = (text: string): string => text.replaceAll('%', '%25').replaceAll('\r', '%0D').replaceAll('\n', '%0A')
const escapeProperty = (text: string): string => escapeData(text).replaceAll(':', '%3A').replaceAll(',', '%2C')

/** GitHub Actions workflow commands (`::error::`, `::add-mask::`, `::group::` …), written to the step's log. */
export class WorkflowCommands {
  readonly #sink: TextSink

  constructor (sink: TextSink) {
    this.#sink = sink
  }

  #issue (command: string, message: string, properties: Record<string, string> = {}): void {
    const list = Object.entries(properties).map(([name, value]) => `${name}=${escapeProperty(value)}`).join(',')
    this.#sink.write(`::${command}${list === '' ? '' : ` ${list}`}::${escapeData(message)}\n`)
  }

  /** An annotation that fails nothing by itself; the exit code does. */
  error (message: string, title: string): void { this.#issue('error', message, { title }) }
  warning (message: string, title: string): void { this.#issue('warning', message, { title }) }

  /** From now on the runner shows `***` wherever the value (each of its lines) would appear. */
  addMask (value: string): void {
    for (const line of value.split(/\r?\n/)) if (line.trim() !== '') this.#issue('add-mask', line)
  }

  line (text: string): void { this.#sink.write(`${text}\n`) }

  /**
   * Lines printed inside a collapsed group, where workflow commands are not obeyed: a job's log line such as
   * `::add-mask::` or `::error::` is shown as written, not acted on.
   */
  async quoted<T> (title: string, body: () => Promise<T>): Promise<T> {
    this.#issue('group', title)
    const token = randomUUID()
    this.#issue('stop-commands', token)
    try {
      return await body()
    } finally {
      this.#sink.write(`::${token}::\n`)
      this.#issue('endgroup', '')
    }
  }
}
