# shellcheck shell=bash
# Helpers shared by build-deploy-api.sh and build-deploy-job.sh. Sourced, never run on its own.
# Conventions: every Google Cloud or Docker side effect goes through `run` (or `ensure`), so
# --dry-run can print it instead; messages go to stderr, dry-run commands to stdout.

DRY_RUN=false
MISSING=()
INVALID=()

log() { printf '%s\n' "$*" >&2; }

# Exit 2 (usage error) with every problem found, before anything has run.
fail_usage() {
  local line
  for line in "$@"; do log "error: $line"; done
  log "Run with --help for the list of variables."
  exit 2
}

# Quote one word only when needed, so a printed command can be pasted back into a shell.
quote_word() {
  local word=$1
  if [[ $word =~ ^[A-Za-z0-9_@%+=:,./-]+$ ]]; then
    printf '%s' "$word"
  else
    printf "'%s'" "${word//\'/\'\\\'\'}"
  fi
}

quote_command() {
  local line="" word
  for word in "$@"; do line+="${line:+ }$(quote_word "$word")"; done
  printf '%s\n' "$line"
}

# Print the command (stdout in --dry-run, where nothing runs; stderr with "+ " otherwise) and run it.
run() {
  if [[ $DRY_RUN == true ]]; then
    quote_command "$@"
    return 0
  fi
  log "+ $(quote_command "$@")"
  "$@"
}

# Run DESCRIBE...; only when it fails run CREATE... — a second run of the script creates nothing.
# Usage: ensure DESCRIBE-COMMAND... -- CREATE-COMMAND...
ensure() {
  local -a describe=()
  while [[ $1 != -- ]]; do describe+=("$1"); shift; done
  shift
  if [[ $DRY_RUN == true ]]; then
    printf '%s >/dev/null 2>&1 || %s\n' "$(quote_command "${describe[@]}")" "$(quote_command "$@")"
    return 0
  fi
  log "+ $(quote_command "${describe[@]}")"
  if "${describe[@]}" >/dev/null 2>&1; then
    log "  exists, not creating"
  else
    run "$@"
  fi
}

# Run a command that a second run of the script finds done: an error naming MARKER (e.g. ALREADY_EXISTS) is success.
run_allowing() {
  local marker=$1 output
  shift
  if [[ $DRY_RUN == true ]]; then
    printf '%s || true  # %s on a later run\n' "$(quote_command "$@")" "$marker"
    return 0
  fi
  log "+ $(quote_command "$@")"
  if ! output=$("$@" 2>&1); then
    if [[ $output != *"$marker"* ]]; then log "$output"; return 1; fi
    log "  $marker: nothing to do"
  fi
}

# IAM is eventually consistent: a service account created seconds ago can be unknown to a
# policy binding for a short while, so bindings are retried (IAM_RETRIES times, IAM_RETRY_DELAY s apart).
run_iam() {
  local attempt=1 max=${IAM_RETRIES:-5} delay=${IAM_RETRY_DELAY:-10}
  until run "$@"; do
    if ((attempt >= max)); then return 1; fi
    log "  failed (attempt $attempt of $max), retrying in ${delay}s"
    sleep "$delay"
    attempt=$((attempt + 1))
  done
}

parse_args() {
  local arg
  for arg in "$@"; do
    case $arg in
      --dry-run) DRY_RUN=true ;;
      -h | --help) usage; exit 0 ;;
      *) log "error: unknown argument: $arg"; usage >&2; exit 2 ;;
    esac
  done
}

# Record each named variable that is unset or empty; fail_if_invalid reports them all at once.
require() {
  local name
  for name in "$@"; do
    if [[ -z ${!name:-} ]]; then MISSING+=("$name"); fi
  done
}

# Record NAME as invalid unless its value matches the regular expression.
check_format() {
  local name=$1 pattern=$2 hint=$3
  if [[ -n ${!name:-} && ! ${!name} =~ $pattern ]]; then INVALID+=("$name must be $hint"); fi
}

fail_if_invalid() {
  local problems=()
  if ((${#MISSING[@]})); then problems+=("missing required variable(s): ${MISSING[*]}"); fi
  if ((${#INVALID[@]})); then problems+=("${INVALID[@]}"); fi
  if ((${#problems[@]})); then fail_usage "${problems[@]}"; fi
}

# The variables both scripts share, with their checks.
require_registry_settings() {
  require PROJECT_ID REGION REPOSITORY
  check_format PROJECT_ID '^[a-z][a-z0-9-]{4,28}[a-z0-9]$' 'a project id (6-30 characters: a-z, 0-9, -)'
  check_format REGION '^[a-z]+-[a-z]+[0-9]+$' 'a Cloud Run region such as europe-west1'
  check_format REPOSITORY '^[a-z]([a-z0-9-]*[a-z0-9])?$' 'an Artifact Registry repository id (a-z, 0-9, -)'
  check_format IMAGE_TAG '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$' 'a Docker tag (A-Z a-z 0-9 _ . -, at most 128 characters)'
}

# The git commit the image is built from; a timestamp when the tree is not a git checkout.
default_image_tag() {
  git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || date -u +%Y%m%d%H%M%S
}

image_ref() {
  printf '%s-docker.pkg.dev/%s/%s/%s:%s\n' "$REGION" "$PROJECT_ID" "$REPOSITORY" "$1" "$IMAGE_TAG"
}

require_tools() {
  local tool missing=()
  if [[ $DRY_RUN == true ]]; then return 0; fi
  for tool in "$@"; do
    if ! command -v "$tool" >/dev/null 2>&1; then missing+=("$tool"); fi
  done
  if ((${#missing[@]})); then fail_usage "not found on PATH: ${missing[*]}"; fi
}

ensure_repository() {
  ensure gcloud artifacts repositories describe "$REPOSITORY" --project "$PROJECT_ID" --location "$REGION" \
    -- gcloud artifacts repositories create "$REPOSITORY" --project "$PROJECT_ID" --location "$REGION" \
    --repository-format docker --description "jobgate images"
}

# Build for Cloud Run's platform and push in one step; the caller deploys exactly this reference.
build_and_push() {
  local dockerfile=$1 image=$2
  run gcloud auth configure-docker "$REGION-docker.pkg.dev" --quiet
  run docker buildx build --push --platform linux/amd64 -f "$dockerfile" -t "$image" .
}

service_account_email() {
  printf '%s@%s.iam.gserviceaccount.com\n' "$1" "$PROJECT_ID"
}

ensure_service_account() {
  local name=$1 display_name=$2
  ensure gcloud iam service-accounts describe "$(service_account_email "$name")" --project "$PROJECT_ID" \
    -- gcloud iam service-accounts create "$name" --project "$PROJECT_ID" --display-name "$display_name"
}
