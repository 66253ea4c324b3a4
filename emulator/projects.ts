import { createHash } from 'node:crypto'

/**
 * Project ids and numbers: a Cloud Run namespace is either. The emulator's own project has the
 * configured number; any other project gets a stable made-up one.
 */
export class Projects {
  readonly #idOfNumber = new Map<string, string>()

  constructor (readonly projectId: string, readonly projectNumber: string) {
    this.#idOfNumber.set(projectNumber, projectId)
  }

  numberOf (project: string): string {
    if (project === this.projectId) return this.projectNumber
    const digits = BigInt('0x' + createHash('sha256').update(project).digest('hex').slice(0, 12)).toString().padStart(12, '0').slice(-12)
    const number = `9${digits.slice(1)}`
    this.#idOfNumber.set(number, project)
    return number
  }

  /** The project id a namespace (id or number) stands for. */
  idOf (namespace: string): string {
    return this.#idOfNumber.get(namespace) ?? namespace
  }
}
