/**
 * Every command of the `jobgate` CLI and every flag it takes, as data: the parser (args.ts), the help
 * (help.ts) and the tests of the docs read this table. A command's code is cli/commands/<name>.ts,
 * loaded only when it runs (cli/commands/index.ts). To add a command: an entry here, then its module.
 */

export interface OptionSpec {
  type: 'string' | 'boolean'
  /** Repeatable: every value is kept, in order. */
  multiple?: true
  short?: string
  /** The value's name in usage lines (string options). */
  value?: string
  help: string
}

export interface CommandSpec {
  /** One line: what the command does. */
  summary: string
  /** The positional arguments, in order, all required. */
  positionals: readonly string[]
  /** Arguments after `--` belong to the command (`run`: the job's args). */
  trailing?: string
  options: Readonly<Record<string, OptionSpec>>
  /** What else to know, after the options. */
  notes?: string
  examples: readonly string[]
}

/** Accepted by every command. */
export const globalOptions = {
  url: { type: 'string', value: 'URL', help: 'the jobgate API, e.g. https://jobgate-abc123-ew.a.run.app (default: $JOBGATE_URL)' },
  json: { type: 'boolean', help: 'print the result as JSON on stdout; all human output goes to stderr' },
  help: { type: 'boolean', short: 'h', help: 'this help' }
} as const satisfies Record<string, OptionSpec>

const waitOptions = {
  wait: { type: 'boolean', help: 'wait for the run to end; the exit code tells how it ended' },
  logs: { type: 'boolean', help: 'print the run\'s log lines while waiting (implies --wait)' },
  'wait-timeout': { type: 'string', value: 'S', help: 'stop waiting after S (90, 90s, 15m, 1h30m) and exit 4; the run continues (implies --wait)' }
} as const satisfies Record<string, OptionSpec>

const timestamps = {
  timestamps: { type: 'boolean', help: 'start each log line with its time (RFC 3339, UTC)' }
} as const satisfies Record<string, OptionSpec>

export const commandTable = {
  run: {
    summary: 'start a run of a job with per-run overrides; with --wait, follow it to the end',
    positionals: ['job'],
    trailing: 'ARG',
    options: {
      arg: { type: 'string', multiple: true, value: 'V', help: 'an argument for the job\'s container (repeatable; replaces its args); \'-x\' needs --arg=-x or \'-- -x\'' },
      env: { type: 'string', multiple: true, value: 'K=V', help: 'an environment variable for this run (repeatable; the value may contain \'=\')' },
      'env-file': { type: 'string', multiple: true, value: 'F', help: 'KEY=VALUE lines (dotenv style: # comments, quotes); --env wins over the file' },
      'clear-args': { type: 'boolean', help: 'run the container with no args at all' },
      tasks: { type: 'string', value: 'N', help: 'number of tasks' },
      timeout: { type: 'string', value: 'S', help: 'per-task timeout (90, 90s, 15m, 1h30m)' },
      ...waitOptions,
      ...timestamps
    },
    notes: 'Each invocation sends one random Idempotency-Key and reuses it when it retries after a\nnetwork error, 429 or 502/503, so a flaky network never starts two runs. A failed run\'s summary\nnames its failed tasks: "task 2 failed after 4 attempts: exit code 3".',
    examples: [
      'jobgate run migrate --env RELEASE=$GITHUB_SHA --wait --logs',
      'jobgate run report --env-file report.env --tasks 10 --timeout 30m --wait --wait-timeout 1h',
      'jobgate run echo --json -- --dry-run --verbose',
      'RUN=$(jobgate run echo)   # prints the run name on stdout when not waiting'
    ]
  },
  batch: {
    summary: 'queue many runs of a Queue job at once (one JSON run request per line); with --wait, follow them to the end',
    positionals: ['job'],
    options: {
      from: {
        type: 'string', value: 'F', help: 'the runs: one run request per line as JSON, e.g. {"env":{"TENANT_ID":"acme"}} (\'-\': stdin)'
      },
      wait: { type: 'boolean', help: 'wait for every run to end; the exit code tells how they ended' },
      'wait-timeout': { type: 'string', value: 'S', help: 'stop waiting after S and exit 4; the runs continue (implies --wait)' }
    },
    notes: 'At most 1,000 runs per batch; blank lines are skipped. One bad line (or one the job refuses) queues\nnothing. ' +
      'Exits 0 when all succeeded, 1 when any failed, 3 when some were cancelled and none failed.',
    examples: [
      'jobgate batch export --from tenants.jsonl --wait',
      'jq -c \'{env: {TENANT_ID: .}}\' tenants.json | jobgate batch export --from - --json'
    ]
  },
  status: {
    summary: 'show one run; with --wait, wait for it to end (how to resume after Ctrl-C or --wait-timeout)',
    positionals: ['job', 'run'],
    options: { ...waitOptions, ...timestamps },
    notes: 'Without --wait the exit code is 0 whenever the run could be read; its state is in the output.',
    examples: ['jobgate status migrate migrate-x7k2p', 'jobgate status migrate migrate-x7k2p --wait --logs']
  },
  logs: {
    summary: 'print a run\'s log lines as "[task N] SEVERITY message"; --follow keeps printing until the run ends',
    positionals: ['job', 'run'],
    options: {
      follow: { type: 'boolean', help: 'keep following until the run ends (exit code as for --wait)' },
      ...timestamps
    },
    notes: 'No entry is printed twice. With --json, one entry per line as JSON on stdout.',
    examples: ['jobgate logs migrate migrate-x7k2p', 'jobgate logs migrate migrate-x7k2p --follow --timestamps']
  },
  tasks: {
    summary: 'a run\'s tasks: state, attempts, the last attempt\'s exit code, start and duration',
    positionals: ['job', 'run'],
    options: {
      failed: { type: 'boolean', help: 'only the failed tasks' }
    },
    notes: 'ATTEMPTS counts how many times a task ran: its retries plus the first attempt.',
    examples: ['jobgate tasks migrate migrate-x7k2p', 'jobgate tasks report report-4n2kq --failed --json | jq \'.[].index\'']
  },
  runs: {
    summary: 'a job\'s runs, newest first: state, start, duration, tasks',
    positionals: ['job'],
    options: {
      limit: { type: 'string', value: 'N', help: 'show at most N runs (default 20)' }
    },
    examples: ['jobgate runs migrate', 'jobgate runs report --limit 100 --json | jq -r \'.[] | select(.state == "FAILED") | .name\'']
  },
  cancel: {
    summary: 'cancel a run; prints the run as the API returns it',
    positionals: ['job', 'run'],
    options: {},
    examples: ['jobgate cancel migrate migrate-x7k2p']
  },
  events: {
    summary: 'follow run events as they happen (started, finished) of every job you may use, or one',
    positionals: [],
    options: {
      job: { type: 'string', value: 'J', help: 'only the runs of job J' },
      after: { type: 'string', value: 'CURSOR', help: 'resume after this event (its id; --json prints it as jobgatecursor)' },
      count: { type: 'string', value: 'N', help: 'exit 0 after N events' }
    },
    notes: 'Runs until Ctrl-C (exit 130) or --count events. A dropped connection resumes after the last event\nprinted: none is printed twice. With --json, one CloudEvent per line on stdout.',
    examples: [
      'jobgate events',
      'jobgate events --job report --json | jq -r \'select(.type == "jobgate.run.finished") | .data.state\''
    ]
  },
  jobs: {
    summary: 'the jobs you may run, with their limits',
    positionals: [],
    options: {},
    examples: ['jobgate jobs', 'jobgate jobs --json | jq -r \'.jobs[].id\'']
  }
} as const satisfies Record<string, CommandSpec>

export type CommandName = keyof typeof commandTable
export const commandNames = Object.keys(commandTable) as CommandName[]

/** Every flag `name` accepts: its own and the global ones. */
export function optionsOf (name: CommandName): Readonly<Record<string, OptionSpec>> {
  return { ...commandTable[name].options, ...globalOptions }
}
