/** A bad configuration value: the process prints `message` as one line and exits before listening. */
export class ConfigError extends Error {
  readonly variable: string

  constructor (variable: string, problem: string) {
    super(`${variable}: ${problem}`)
    this.name = 'ConfigError'
    this.variable = variable
  }
}
