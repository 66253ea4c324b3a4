import type { CommandName } from './args.js'
import { exitCodeTable } from './exit-codes.js'

const connection = `Connection:
  --url URL     the jobgate API, e.g. https://jobgate-abc123-ew.a.run.app (default: $JOBGATE_URL)
  --json        print the result as JSON on stdout; all human output goes to stderr
  -h, --help    this help

Authentication (first that applies):
  JOBGATE_API_KEY   an API key, sent as X-API-Key
  JOBGATE_ID_TOKEN  a ready-made Google ID token (e.g. from google-github-actions/auth, token_format: id_token)
  otherwise a Google ID token for the API URL from Application Default Credentials:
  the metadata server (Cloud Build, GCE, Cloud Run), a service-account key in
  GOOGLE_APPLICATION_CREDENTIALS, or gcloud's user credentials. Tokens and keys are never printed.`

const usages: Record<CommandName, string> = {
  run: 'jobgate run <job> [--arg V]… [--env K=V]… [--env-file F]… [--clear-args] [--tasks N] [--timeout S] [--wait] [--logs] [--wait-timeout S] [--json] [-- ARG…]',
  status: 'jobgate status <job> <run> [--wait] [--logs] [--wait-timeout S] [--json]',
  logs: 'jobgate logs <job> <run> [--follow] [--json]',
  cancel: 'jobgate cancel <job> <run> [--json]',
  jobs: 'jobgate jobs [--json]'
}

const details: Record<CommandName, string> = {
  run: `Start a run of <job> with per-run overrides; with --wait, follow it to the end.

Options:
  --arg V           an argument for the job's container (repeatable; replaces the container's args);
                    a value starting with '-' needs the form --arg=-V, or put the args after '--'
  --env K=V         an environment variable for this run (repeatable; the value may contain '=')
  --env-file F      KEY=VALUE lines (dotenv style; # comments, quotes); --env wins over the file
  --clear-args      run the container with no args at all
  --tasks N         number of tasks
  --timeout S       per-task timeout (90, 90s, 15m, 1h30m)
  --wait            wait for the run to end; the exit code tells how it ended
  --logs            print the run's log lines while waiting (implies --wait)
  --wait-timeout S  stop waiting after S and exit 4; the run continues (implies --wait)

Each invocation sends one random Idempotency-Key and reuses it when it retries after a
network error, 429 or 502/503, so a flaky network never starts two runs.

Examples:
  jobgate run migrate --env RELEASE=$GITHUB_SHA --wait --logs
  jobgate run report --env-file report.env --tasks 10 --timeout 30m --wait --wait-timeout 1h
  jobgate run echo --json -- --dry-run --verbose
  RUN=$(jobgate run echo)   # prints the run name on stdout when not waiting`,
  status: `Show one run; with --wait, wait for it to end (how to resume after Ctrl-C or --wait-timeout).

Options:
  --wait            wait for the run to end; the exit code tells how it ended
  --logs            print the run's log lines while waiting (implies --wait)
  --wait-timeout S  stop waiting after S and exit 4 (implies --wait)

Without --wait the exit code is 0 whenever the run could be read; its state is in the output.

Examples:
  jobgate status migrate migrate-x7k2p
  jobgate status migrate migrate-x7k2p --wait --logs`,
  logs: `Print a run's log entries as "[task N] SEVERITY message"; with --follow, keep printing new
entries until the run ends (exit code as for --wait). No entry is printed twice.

Options:
  --follow   keep following until the run ends
  --json     one entry per line as JSON on stdout

Examples:
  jobgate logs migrate migrate-x7k2p
  jobgate logs migrate migrate-x7k2p --follow`,
  cancel: `Cancel a run. Prints the run as the API returns it.

Examples:
  jobgate cancel migrate migrate-x7k2p`,
  jobs: `List the jobs you may run, with their limits.

Examples:
  jobgate jobs
  jobgate jobs --json | jq '.'`
}

export const commandUsage = (command: CommandName): string => `Usage: ${usages[command]}`

export function commandHelp (command: CommandName): string {
  return `${commandUsage(command)}\n\n${details[command]}\n\n${connection}\n\n${exitCodeTable}\n`
}

export const generalHelp = `jobgate — start Cloud Run jobs through the jobgate API, follow them, stream their logs

Usage:
  ${usages.run}
  ${usages.status}
  ${usages.logs}
  ${usages.cancel}
  ${usages.jobs}
  jobgate help <command> | jobgate <command> --help | jobgate --version

Examples:
  export JOBGATE_URL=https://jobgate-abc123-ew.a.run.app
  jobgate jobs
  jobgate run migrate --env RELEASE=v42 --wait --logs

${connection}

${exitCodeTable}
`

export const shortUsage = 'Usage: jobgate <run|status|logs|cancel|jobs> … (jobgate --help for more)'
