import { parseDurationSeconds } from '../cli/duration.js'

/** One input of action.yml (test/action/action-yml.test.ts checks the file against this table). */
export interface InputSpec { description: string, required?: true, default?: string }

export const actionInputs = {
  url: { description: 'The jobgate API, e.g. https://jobgate-abc123-ew.a.run.app', required: true },
  job: { description: 'The catalog job to run', required: true },
  env: { description: 'Environment variables for this run, one NAME=value per line' },
  args: { description: 'Arguments for the job\'s container, one per line; they replace its args' },
  tasks: { description: 'Number of tasks' },
  timeout: { description: 'Per-task timeout: 90, 90s, 15m or 1h30m' },
  wait: { description: 'Wait for the run to end; a failed or cancelled run fails the step', default: 'true' },
  'wait-timeout': { description: 'Stop waiting after this long (90, 15m, 1h30m): the step fails, the run continues' },
  logs: { description: 'Print the run\'s log lines while waiting', default: 'true' },
  'api-key': { description: 'An API key jobgate accepts, sent as X-API-Key; pass it from a secret' },
  'id-token-audience': { description: 'Send a Google ID token for this audience (jobgate\'s URL), from the credentials google-github-actions/auth leaves on the runner' }
} as const satisfies Record<string, InputSpec>

export const actionOutputs = {
  run: 'The run\'s name (its Cloud Run execution)',
  state: 'The run\'s last state seen: PENDING, RUNNING, SUCCEEDED, FAILED or CANCELLED',
  'succeeded-count': 'Tasks that succeeded',
  'failed-count': 'Tasks that failed',
  'log-url': 'The run\'s log lines: the Cloud Console\'s page, or jobgate\'s logs route when there is none (local mode)'
} as const

export type OutputName = keyof typeof actionOutputs
type InputName = keyof typeof actionInputs

export interface ActionInputs {
  url: URL
  job: string
  env: Record<string, string>
  args: string[]
  taskCount: number | undefined
  timeoutSeconds: number | undefined
  wait: boolean
  waitTimeoutSeconds: number | undefined
  logs: boolean
  apiKey: string | undefined
  idTokenAudience: string | undefined
}

/** How the runner passes input `name`: INPUT_ and the name in capitals, spaces as underscores (hyphens stay). */
export const inputVariable = (name: string): string => `INPUT_${name.replaceAll(' ', '_').toUpperCase()}`

/** Names that look secret, as the companion job redacts them: their values are masked in the log. */
export const secretLooking = (name: string): boolean => /TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIAL|PRIVATE/i.test(name)

const booleans: Record<string, boolean> = { true: true, True: true, TRUE: true, false: false, False: false, FALSE: false }

/**
 * The step's inputs from the runner's environment, or every problem with them (in the order of the inputs): a
 * bad input must fail the step before anything is sent. Problems never repeat a value: it may be a secret.
 */
export function readInputs (environment: Readonly<Record<string, string | undefined>>): { inputs: ActionInputs } | { problems: string[] } {
  const problems: string[] = []
  const known = new Set(Object.keys(actionInputs).map(inputVariable))
  for (const variable of Object.keys(environment).filter(name => name.startsWith('INPUT_') && !known.has(name)).sort()) {
    problems.push(`unknown input '${variable.slice('INPUT_'.length).toLowerCase()}' (this action takes: ${Object.keys(actionInputs).join(', ')})`)
  }
  const given = (name: InputName): string | undefined => {
    const value = environment[inputVariable(name)]?.trim()
    return value === undefined || value === '' ? undefined : value
  }
  const lines = (name: InputName): string[] => (given(name) ?? '').split(/\r?\n/).map(line => line.trim()).filter(line => line !== '')
  const required = (name: InputName): string => {
    const value = given(name)
    if (value === undefined) problems.push(`missing input '${name}': ${actionInputs[name].description.toLowerCase()}`)
    return value ?? ''
  }
  const duration = (name: InputName): number | undefined => {
    const text = given(name)
    const seconds = text === undefined ? undefined : parseDurationSeconds(text)
    if (text !== undefined && seconds === undefined) problems.push(`input '${name}': expected a duration like 90, 90s, 15m or 1h30m`)
    return seconds
  }
  const boolean = (name: 'wait' | 'logs'): boolean => {
    const text = given(name) ?? actionInputs[name].default
    const value = booleans[text]
    if (value === undefined) problems.push(`input '${name}': expected true or false`)
    return value ?? false
  }

  const urlText = required('url')
  let url: URL | undefined
  try {
    url = urlText === '' ? undefined : new URL(urlText)
  } catch { /* reported below */ }
  if (urlText !== '' && (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:'))) problems.push('input \'url\': expected an http(s) URL')
  const job = required('job')
  const env: Record<string, string> = {}
  lines('env').forEach((line, index) => {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(line)
    if (match === null) problems.push(`input 'env', line ${index + 1}: expected NAME=value (a name of letters, digits and _, then =)`)
    else env[match[1] as string] = match[2] as string
  })
  const tasksText = given('tasks')
  if (tasksText !== undefined && !(/^\d+$/.test(tasksText) && Number(tasksText) >= 1)) problems.push('input \'tasks\': expected a whole number ≥ 1')
  const timeoutSeconds = duration('timeout')
  const wait = boolean('wait')
  const waitTimeoutSeconds = duration('wait-timeout')
  const logs = boolean('logs')
  const apiKey = given('api-key')
  const idTokenAudience = given('id-token-audience')
  if (apiKey !== undefined && idTokenAudience !== undefined) problems.push('give api-key or id-token-audience, not both')
  if (problems.length > 0) return { problems }
  return {
    inputs: {
      url: url as URL,
      job,
      env,
      args: lines('args'),
      taskCount: tasksText === undefined ? undefined : Number(tasksText),
      timeoutSeconds,
      wait,
      waitTimeoutSeconds,
      logs,
      apiKey,
      idTokenAudience
    }
  }
}
