#!/usr/bin/env bash
# Build the jobgate API image (Dockerfile.api), push it, give its service account the least
# privilege the catalog needs, and deploy it to Cloud Run, private by default. Safe to run again.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=build-deploy-common.sh
source "$ROOT/build-deploy-common.sh"

usage() {
  cat <<'EOF'
Usage: build-deploy-api.sh [--dry-run] [--help]

Builds Dockerfile.api, pushes it to Artifact Registry, creates the API's service account,
grants it least privilege and deploys the Cloud Run service (create or update):
  roles/run.jobsExecutorWithOverrides  on each job of the catalog (resource-level binding)
  roles/run.viewer, roles/logging.viewer on each project that holds a catalog job
  roles/secretmanager.secretAccessor   on the API-keys secret, when one is given
  roles/datastore.user                 on PROJECT_ID, with JOBGATE_IDEMPOTENCY=firestore
  roles/pubsub.publisher               on the events topic, with JOBGATE_EVENTS_TOPIC
The service requires an identity token (--no-allow-unauthenticated) unless
ALLOW_UNAUTHENTICATED=true, which is refused while JOBGATE_AUTH is none.

One instance, or Firestore: instances must share idempotency keys and concurrency leases, or a
retry that reaches another instance starts a second run. With the memory store (the default) the
service gets --max-instances 1, and MAX_INSTANCES above 1 is refused. With
JOBGATE_IDEMPOTENCY=firestore the script enables the Firestore API, creates the database when
missing (Native mode, in FIRESTORE_LOCATION), turns on the TTL policy of the expireAt field of the
keys, run records and events, creates the composite indexes listed in firestore-indexes.json and
grants roles/datastore.user; then MAX_INSTANCES may go up to what the read quotas allow.

Run events: with JOBGATE_EVENTS_TOPIC the script enables Pub/Sub, creates the topic when missing,
grants the account roles/pubsub.publisher on it, and deploys with --no-cpu-throttling and
--min-instances 1: the reconcilers and the outbox work between requests, when Cloud Run would
otherwise throttle the CPU.

Required variables:
  PROJECT_ID               Google Cloud project id of the service
  REGION                   region of the service and of the Artifact Registry repository
  REPOSITORY               Artifact Registry Docker repository (created when missing)
  JOBGATE_AUTH             inbound authentication: none, or a comma list of apikey, google
  JOBGATE_AUDIENCE         when JOBGATE_AUTH has google: the ID-token audience (the service URL)
  JOBGATE_API_KEYS_SECRET  when JOBGATE_AUTH has apikey: Secret Manager secret NAME[:VERSION]
                           holding JOBGATE_API_KEYS (the keys themselves never pass through here)
  the job catalog          CATALOG_FILE (default: jobs.json), or JOBGATE_JOBS holding the JSON

Optional variables:
  SERVICE_NAME             Cloud Run service name                   (default: jobgate-api)
  API_SERVICE_ACCOUNT      service account id, created when missing (default: jobgate-api)
  IMAGE_NAME               image name in the repository             (default: jobgate-api)
  IMAGE_TAG                image tag            (default: git short sha, else a UTC timestamp)
  GOOGLE_CLOUD_PROJECT     default project of catalog jobs          (default: PROJECT_ID)
  CLOUD_RUN_REGION         default region of catalog jobs           (default: REGION)
  JOBGATE_IDEMPOTENCY      memory (one instance) or firestore (shared by all instances) (default: memory)
  JOBGATE_FIRESTORE_DATABASE  with firestore: the database, created when missing (default: (default))
  FIRESTORE_LOCATION       with firestore: where a new database is created, e.g. nam5, eur3 (default: REGION)
  JOBGATE_EVENTS_TOPIC     projects/PROJECT/topics/TOPIC: publish run events there (created when missing)
  JOBGATE_RATE_LIMIT, JOBGATE_READ_RATE_LIMIT, JOBGATE_MAX_WAITS, JOBGATE_REQUEST_TIMEOUT_SECONDS,
  JOBGATE_MAX_INFLIGHT_RUNS, JOBGATE_UPSTREAM_CONNECTIONS, JOBGATE_IDEMPOTENCY_COLLECTION,
  JOBGATE_IDEMPOTENCY_TTL_SECONDS, JOBGATE_LEASE_SECONDS, LOG_LEVEL, CLOUD_RUN_API_ENDPOINT,
  CLOUD_LOGGING_API_ENDPOINT
                           passed to the service when set
  JOBGATE_LOGGING_READS_PER_MINUTE, JOBGATE_RUN_READS_PER_MINUTE
                           read budgets per instance (default 30 and 300), passed when set
  MAX_INSTANCES            --max-instances; 1 with the memory store (more is refused); with firestore,
                           default and upper bound: what keeps every instance's budgets within the
                           project's quotas (60 log reads, 1,000 Cloud Run reads a minute): 2 with
                           the default budgets
  INVOKERS                 comma list of members given roles/run.invoker on the service,
                           e.g. serviceAccount:ci@my-project.iam.gserviceaccount.com
  ALLOW_UNAUTHENTICATED    true to skip Cloud Run's IAM check      (default: false)
  IAM_RETRIES, IAM_RETRY_DELAY  retries of IAM bindings while a new account propagates (5, 10 s)

Options:
  --dry-run                print every command (copy-pasteable), run none
  --help                   show this help

Example:
  PROJECT_ID=my-project REGION=europe-west1 REPOSITORY=jobgate JOBGATE_AUTH=google \
  JOBGATE_AUDIENCE=https://jobgate-api-123456789012.europe-west1.run.app CATALOG_FILE=jobs.json \
    ./build-deploy-api.sh
EOF
}

# Reads the catalog and prints: its JSON on one line; its first job key; then one
# "project region job" line per distinct Cloud Run job it names (defaults as in CONTRACT.md §3).
read -r -d '' CATALOG_SCRIPT <<'EOF' || true
const fs = require("node:fs");
const [source, kind, value, defaultProject, defaultRegion] = process.argv.slice(1);
const fail = (message) => { console.error(`error: ${source}: ${message}`); process.exit(2); };
let catalog;
try { catalog = JSON.parse(kind === "file" ? fs.readFileSync(value, "utf8") : value); }
catch (error) { fail(error.message); }
const jobs = catalog !== null && typeof catalog === "object" ? catalog.jobs : undefined;
if (jobs === null || typeof jobs !== "object" || Array.isArray(jobs) || Object.keys(jobs).length === 0)
  fail('needs a non-empty "jobs" object, e.g. {"jobs": {"echo": {}}}');
const patterns = {
  project: /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/,
  region: /^[a-z]+-[a-z]+[0-9]+$/,
  job: /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/,
};
const targets = new Set();
for (const [key, entry] of Object.entries(jobs)) {
  if (entry === null || typeof entry !== "object" || Array.isArray(entry)) fail(`jobs.${key} must be an object`);
  const target = { project: entry.project ?? defaultProject, region: entry.region ?? defaultRegion, job: entry.job ?? key };
  for (const [field, value] of Object.entries(target))
    if (typeof value !== "string" || !patterns[field].test(value)) fail(`jobs.${key}.${field} is not a valid ${field}: ${JSON.stringify(value)}`);
  targets.add(`${target.project} ${target.region} ${target.job}`);
}
console.log(JSON.stringify(catalog));
console.log(Object.keys(jobs)[0]);
for (const target of targets) console.log(target);
EOF

# Reads firestore-indexes.json and prints one line per composite index: its collection group, then its
# fields as gcloud's --field-config values.
read -r -d '' INDEXES_SCRIPT <<'EOF' || true
const [file, collection] = process.argv.slice(1);
for (const index of JSON.parse(require("node:fs").readFileSync(file, "utf8")).indexes) {
  const fields = index.fields.map(field => `field-path=${field.fieldPath},order=${field.order.toLowerCase()}`);
  console.log([index.collectionGroup.replace("{collection}", collection), ...fields].join(" "));
}
EOF

# jobgate's Firestore client speaks Native mode; a Datastore-mode database of that name cannot serve it.
require_native_database() {
  local type describe=(gcloud firestore databases describe --database "$1" --project "$PROJECT_ID" --format 'value(type)')
  if [[ $DRY_RUN == true ]]; then
    printf '%s | grep -qx FIRESTORE_NATIVE\n' "$(quote_command "${describe[@]}")"
    return 0
  fi
  log "+ $(quote_command "${describe[@]}")"
  type=$("${describe[@]}")
  if [[ $type != FIRESTORE_NATIVE ]]; then
    log "error: Firestore database $1 of $PROJECT_ID is in ${type:-an unknown} mode; jobgate needs Native mode:" \
      "set JOBGATE_FIRESTORE_DATABASE to another database (it is created when missing)"
    exit 1
  fi
}

# Each JOBGATE_AUTH item must be known, and none stands alone.
check_auth() {
  local item items
  IFS=, read -r -a items <<<"$JOBGATE_AUTH"
  for item in "${items[@]}"; do
    case $item in
      apikey | google) ;;
      none) if ((${#items[@]} > 1)); then INVALID+=("JOBGATE_AUTH: none cannot be combined with other methods"); fi ;;
      *) INVALID+=("JOBGATE_AUTH: unknown method '$item' (expected none, or a comma list of apikey, google)") ;;
    esac
  done
}

has_auth() { [[ ,${JOBGATE_AUTH:-}, == *",$1,"* ]]; }

# gcloud splits --set-env-vars on commas, which the catalog JSON contains: use gcloud's
# alternate-delimiter form (^D^K=V^D…, see `gcloud topic escaping`) with a D found in no value.
env_vars_flag_value() {
  local delimiter pair clash
  for delimiter in '@' '|' '~' ';' '%' '@@' '||' '~~'; do
    clash=false
    for pair in "$@"; do
      if [[ $pair == *"$delimiter"* ]]; then clash=true; fi
    done
    if [[ $clash == false ]]; then
      local joined=$1
      for pair in "${@:2}"; do joined+="$delimiter$pair"; done
      printf '^%s^%s\n' "$delimiter" "$joined"
      return 0
    fi
  done
  log "error: every candidate delimiter occurs in an environment value"
  return 1
}

parse_args "$@"

require_registry_settings
require JOBGATE_AUTH
check_format JOBGATE_AUTH '^[a-z]+(,[a-z]+)*$' 'none, or a comma list of apikey, google (no spaces, no empty items)'
if [[ ${JOBGATE_AUTH:-} =~ ^[a-z]+(,[a-z]+)*$ ]]; then check_auth; fi
if has_auth google; then require JOBGATE_AUDIENCE; fi
if has_auth apikey; then require JOBGATE_API_KEYS_SECRET; fi
if [[ -n ${JOBGATE_API_KEYS:-} ]]; then
  # Never echo it: a value here would end up in the printed command and the service's plain env.
  INVALID+=("JOBGATE_API_KEYS is set: store the keys in Secret Manager and pass the secret's name as JOBGATE_API_KEYS_SECRET instead")
fi
check_format JOBGATE_API_KEYS_SECRET '^[A-Za-z0-9_-]{1,255}(:([1-9][0-9]*|latest))?$' 'a Secret Manager secret NAME or NAME:VERSION'
check_format SERVICE_NAME '^[a-z]([a-z0-9-]{0,47}[a-z0-9])?$' 'a Cloud Run service name (a-z, 0-9, -; at most 49 characters)'
check_format API_SERVICE_ACCOUNT '^[a-z][a-z0-9-]{4,28}[a-z0-9]$' 'a service account id (6-30 characters: a-z, 0-9, -)'
check_format IMAGE_NAME '^[a-z0-9]+([._/-][a-z0-9]+)*$' 'an image name (a-z, 0-9, . _ - /)'
check_format GOOGLE_CLOUD_PROJECT '^[a-z][a-z0-9-]{4,28}[a-z0-9]$' 'a project id'
check_format CLOUD_RUN_REGION '^[a-z]+-[a-z]+[0-9]+$' 'a Cloud Run region such as europe-west1'
check_format LOG_LEVEL '^(fatal|error|warn|info|debug|trace|silent)$' 'a pino level (fatal, error, warn, info, debug, trace, silent)'
check_format JOBGATE_IDEMPOTENCY '^(memory|firestore)$' 'memory or firestore'
check_format JOBGATE_FIRESTORE_DATABASE '^(\(default\)|[a-z][a-z0-9-]{2,61}[a-z0-9])$' \
  'a Firestore database id: (default), or 4-63 characters a-z, 0-9, - starting with a letter'
check_format FIRESTORE_LOCATION '^[a-z][a-z0-9-]*[0-9]$' 'a Firestore location such as nam5, eur3 or europe-west1'
check_format JOBGATE_EVENTS_TOPIC '^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/topics/[A-Za-z][A-Za-z0-9._~+%-]{2,254}$' \
  'a Pub/Sub topic name: projects/PROJECT/topics/TOPIC'
check_format JOBGATE_LEASE_SECONDS '^([3-9]|[1-9][0-9]{1,2})$' 'a whole number of seconds from 3 to 999'
check_format INVOKERS '^((user|serviceAccount|group|domain|principal|principalSet):[^,]+)(,(user|serviceAccount|group|domain|principal|principalSet):[^,]+)*$' 'a comma list of IAM members such as serviceAccount:ci@p.iam.gserviceaccount.com'
case ${ALLOW_UNAUTHENTICATED:-false} in
  false) INGRESS_FLAG=--no-allow-unauthenticated ;;
  true)
    INGRESS_FLAG=--allow-unauthenticated
    if [[ -z ${JOBGATE_AUTH:-} || $JOBGATE_AUTH == none ]]; then
      INVALID+=("ALLOW_UNAUTHENTICATED=true refused: JOBGATE_AUTH must be apikey and/or google, or the API would be open to anyone")
    fi
    ;;
  *) INVALID+=("ALLOW_UNAUTHENTICATED must be true or false") ;;
esac
# jobgate's read budgets are per instance; every instance draws on the same project quotas, so
# --max-instances × budget must stay within them: Cloud Logging allows 60 entries.list calls a
# minute per project, Cloud Run's Admin API 1,000 reads a minute per project and region.
LOGGING_READ_QUOTA=60
RUN_READ_QUOTA=1000
check_format JOBGATE_LOGGING_READS_PER_MINUTE '^[1-9][0-9]{0,6}$' 'a whole number of Cloud Logging reads per minute per instance (4 or more)'
check_format JOBGATE_RUN_READS_PER_MINUTE '^[1-9][0-9]{0,6}$' 'a whole number of Cloud Run reads per minute per instance (4 or more)'
check_format MAX_INSTANCES '^[1-9][0-9]{0,3}$' 'a whole number of instances from 1'
if [[ ${JOBGATE_LOGGING_READS_PER_MINUTE:-30} =~ ^[1-9][0-9]{0,6}$ && ${JOBGATE_RUN_READS_PER_MINUTE:-300} =~ ^[1-9][0-9]{0,6}$ ]]; then
  logging_instances=$((LOGGING_READ_QUOTA / ${JOBGATE_LOGGING_READS_PER_MINUTE:-30}))
  run_instances=$((RUN_READ_QUOTA / ${JOBGATE_RUN_READS_PER_MINUTE:-300}))
  QUOTA_INSTANCES=$((logging_instances < run_instances ? logging_instances : run_instances))
  if ((QUOTA_INSTANCES < 1)); then
    INVALID+=("JOBGATE_LOGGING_READS_PER_MINUTE (${JOBGATE_LOGGING_READS_PER_MINUTE:-30}) or JOBGATE_RUN_READS_PER_MINUTE (${JOBGATE_RUN_READS_PER_MINUTE:-300}) alone exceeds the project's quota ($LOGGING_READ_QUOTA and $RUN_READ_QUOTA a minute)")
  elif [[ ${MAX_INSTANCES:-} =~ ^[0-9]+$ ]] && ((MAX_INSTANCES > QUOTA_INSTANCES)); then
    INVALID+=("MAX_INSTANCES=$MAX_INSTANCES × the read budgets would exceed the project's read quotas: at most $QUOTA_INSTANCES, or lower JOBGATE_LOGGING_READS_PER_MINUTE / JOBGATE_RUN_READS_PER_MINUTE")
  fi
fi
# Instances share idempotency keys and concurrency leases only through Firestore: with the memory
# store each keeps its own, and a retry or redelivery reaching another instance starts a second run.
if [[ ${JOBGATE_IDEMPOTENCY:-memory} == firestore ]]; then
  : "${MAX_INSTANCES:=${QUOTA_INSTANCES:-1}}"
elif [[ ${MAX_INSTANCES:-1} =~ ^[0-9]+$ ]] && ((${MAX_INSTANCES:-1} > 1)); then
  refusal="MAX_INSTANCES=$MAX_INSTANCES needs JOBGATE_IDEMPOTENCY=firestore, not ${JOBGATE_IDEMPOTENCY:-memory} (each instance would"
  refusal+=" keep its own idempotency keys and concurrency leases): set JOBGATE_IDEMPOTENCY=firestore, or MAX_INSTANCES=1"
  INVALID+=("$refusal")
fi
: "${MAX_INSTANCES:=1}"
if [[ -n ${JOBGATE_JOBS:-} && -n ${CATALOG_FILE:-} ]]; then
  INVALID+=("set either CATALOG_FILE or JOBGATE_JOBS, not both")
elif [[ -z ${JOBGATE_JOBS:-} && ! -f ${CATALOG_FILE:=jobs.json} ]]; then
  INVALID+=("CATALOG_FILE: no file at '$CATALOG_FILE' (the job catalog; or put its JSON in JOBGATE_JOBS)")
fi
fail_if_invalid
require_tools gcloud docker node

: "${GOOGLE_CLOUD_PROJECT:=$PROJECT_ID}" "${CLOUD_RUN_REGION:=$REGION}"
if [[ -n ${JOBGATE_JOBS:-} ]]; then
  catalog=$(node -e "$CATALOG_SCRIPT" JOBGATE_JOBS json "$JOBGATE_JOBS" "$GOOGLE_CLOUD_PROJECT" "$CLOUD_RUN_REGION")
else
  catalog=$(node -e "$CATALOG_SCRIPT" "CATALOG_FILE $CATALOG_FILE" file "$CATALOG_FILE" "$GOOGLE_CLOUD_PROJECT" "$CLOUD_RUN_REGION")
fi
{
  read -r CATALOG_JSON
  read -r FIRST_JOB
  mapfile -t JOB_TARGETS
} <<<"$catalog"

IMAGE_TAG=${IMAGE_TAG:-$(default_image_tag)}
IMAGE=$(image_ref "${IMAGE_NAME:-jobgate-api}")
SERVICE=${SERVICE_NAME:-jobgate-api}
ACCOUNT_ID=${API_SERVICE_ACCOUNT:-jobgate-api}
MEMBER="serviceAccount:$(service_account_email "$ACCOUNT_ID")"

FIRESTORE=false
if [[ ${JOBGATE_IDEMPOTENCY:-memory} == firestore ]]; then
  FIRESTORE=true
  DATABASE=${JOBGATE_FIRESTORE_DATABASE:-(default)}
  COLLECTION=${JOBGATE_IDEMPOTENCY_COLLECTION:-jobgate-idempotency}
  indexes=$(node -e "$INDEXES_SCRIPT" "$ROOT/firestore-indexes.json" "$COLLECTION")
  mapfile -t COMPOSITE_INDEXES <<<"$indexes"
fi

ENV_VARS=("JOBGATE_MODE=cloud" "JOBGATE_AUTH=$JOBGATE_AUTH" "JOBGATE_JOBS=$CATALOG_JSON"
  "GOOGLE_CLOUD_PROJECT=$GOOGLE_CLOUD_PROJECT" "CLOUD_RUN_REGION=$CLOUD_RUN_REGION")
if [[ $FIRESTORE == true ]]; then ENV_VARS+=("JOBGATE_FIRESTORE_DATABASE=$DATABASE"); fi
for name in JOBGATE_EVENTS_TOPIC JOBGATE_LEASE_SECONDS JOBGATE_AUDIENCE JOBGATE_RATE_LIMIT JOBGATE_READ_RATE_LIMIT JOBGATE_MAX_WAITS JOBGATE_REQUEST_TIMEOUT_SECONDS \
  JOBGATE_MAX_INFLIGHT_RUNS JOBGATE_UPSTREAM_CONNECTIONS JOBGATE_IDEMPOTENCY JOBGATE_IDEMPOTENCY_COLLECTION \
  JOBGATE_IDEMPOTENCY_TTL_SECONDS JOBGATE_LOGGING_READS_PER_MINUTE JOBGATE_RUN_READS_PER_MINUTE LOG_LEVEL CLOUD_RUN_API_ENDPOINT CLOUD_LOGGING_API_ENDPOINT; do
  if [[ -n ${!name:-} ]]; then ENV_VARS+=("$name=${!name}"); fi
done
DEPLOY_FLAGS=(--set-env-vars "$(env_vars_flag_value "${ENV_VARS[@]}")" --max-instances "$MAX_INSTANCES")
if [[ -n ${JOBGATE_EVENTS_TOPIC:-} ]]; then
  TOPIC_PROJECT=$(cut -d/ -f2 <<<"$JOBGATE_EVENTS_TOPIC")
  TOPIC=${JOBGATE_EVENTS_TOPIC##*/}
  # Events are published between requests (a run ends while nobody asks): the CPU must stay on, on one instance at least.
  DEPLOY_FLAGS+=(--no-cpu-throttling --min-instances 1)
else
  DEPLOY_FLAGS+=(--cpu-throttling --min-instances 0) # what a deploy with events left behind is undone
fi
if [[ -n ${JOBGATE_API_KEYS_SECRET:-} ]]; then
  SECRET_NAME=${JOBGATE_API_KEYS_SECRET%%:*}
  SECRET_VERSION=${JOBGATE_API_KEYS_SECRET#"$SECRET_NAME"}
  DEPLOY_FLAGS+=(--set-secrets "JOBGATE_API_KEYS=$SECRET_NAME${SECRET_VERSION:-:latest}")
else
  DEPLOY_FLAGS+=(--clear-secrets) # keys from an earlier apikey deploy must not linger
fi

cd "$ROOT"
if [[ $DRY_RUN == true ]]; then quote_command cd "$ROOT"; fi

# Shared state first: a database in the wrong mode stops the script before anything is built.
if [[ $FIRESTORE == true ]]; then
  run gcloud services enable firestore.googleapis.com --project "$PROJECT_ID"
  ensure gcloud firestore databases describe --database "$DATABASE" --project "$PROJECT_ID" \
    -- gcloud firestore databases create --database "$DATABASE" --location "${FIRESTORE_LOCATION:-$REGION}" \
    --type firestore-native --project "$PROJECT_ID"
  require_native_database "$DATABASE"
  # Keys and leases carry expireAt; without the policy nothing ever deletes them. --async: it takes minutes.
  # Run records and events (api/lifecycle) expire the same way, in collections of their own.
  for group in "$COLLECTION" "$COLLECTION-runs" "$COLLECTION-events"; do
    run gcloud firestore fields ttls update expireAt --collection-group "$group" --enable-ttl \
      --database "$DATABASE" --project "$PROJECT_ID" --async
  done
  # Firestore answers FAILED_PRECONDITION to a query whose composite index is missing: firestore-indexes.json lists each one.
  for index in "${COMPOSITE_INDEXES[@]}"; do
    read -r -a parts <<<"$index"
    field_configs=()
    for field in "${parts[@]:1}"; do field_configs+=(--field-config "$field"); done
    run_allowing ALREADY_EXISTS gcloud firestore indexes composite create --collection-group "${parts[0]}" "${field_configs[@]}" \
      --database "$DATABASE" --project "$PROJECT_ID" --async
  done
fi
if [[ -n ${JOBGATE_EVENTS_TOPIC:-} ]]; then
  run gcloud services enable pubsub.googleapis.com --project "$TOPIC_PROJECT"
  ensure gcloud pubsub topics describe "$TOPIC" --project "$TOPIC_PROJECT" \
    -- gcloud pubsub topics create "$TOPIC" --project "$TOPIC_PROJECT"
fi
ensure_repository
build_and_push Dockerfile.api "$IMAGE"
ensure_service_account "$ACCOUNT_ID" "jobgate API"

# Least privilege: start (with overrides) and cancel only the catalog's jobs ...
for target in "${JOB_TARGETS[@]}"; do
  read -r job_project job_region job_name <<<"$target"
  run_iam gcloud run jobs add-iam-policy-binding "$job_name" --project "$job_project" --region "$job_region" \
    --member "$MEMBER" --role roles/run.jobsExecutorWithOverrides --quiet
done
# ... and read executions and their logs in the projects that hold them.
mapfile -t JOB_PROJECTS < <(printf '%s\n' "${JOB_TARGETS[@]}" | cut -d' ' -f1 | sort -u)
for job_project in "${JOB_PROJECTS[@]}"; do
  for role in roles/run.viewer roles/logging.viewer; do
    run_iam gcloud projects add-iam-policy-binding "$job_project" --member "$MEMBER" --role "$role" \
      --condition None --quiet
  done
done
# Several instances share idempotency keys and leases in Firestore: read and write documents, nothing more.
if [[ $FIRESTORE == true ]]; then
  run_iam gcloud projects add-iam-policy-binding "$PROJECT_ID" --member "$MEMBER" --role roles/datastore.user \
    --condition None --quiet
fi
# Run events: publish to the one topic, nothing more.
if [[ -n ${JOBGATE_EVENTS_TOPIC:-} ]]; then
  run_iam gcloud pubsub topics add-iam-policy-binding "$TOPIC" --project "$TOPIC_PROJECT" \
    --member "$MEMBER" --role roles/pubsub.publisher --quiet
fi
if [[ -n ${SECRET_NAME:-} ]]; then
  run_iam gcloud secrets add-iam-policy-binding "$SECRET_NAME" --project "$PROJECT_ID" \
    --member "$MEMBER" --role roles/secretmanager.secretAccessor --quiet
fi

run gcloud run deploy "$SERVICE" --project "$PROJECT_ID" --region "$REGION" --image "$IMAGE" \
  --service-account "${MEMBER#serviceAccount:}" "$INGRESS_FLAG" "${DEPLOY_FLAGS[@]}" --quiet

if [[ -n ${INVOKERS:-} ]]; then
  IFS=, read -r -a invoker_members <<<"$INVOKERS"
  for invoker in "${invoker_members[@]}"; do
    run_iam gcloud run services add-iam-policy-binding "$SERVICE" --project "$PROJECT_ID" --region "$REGION" \
      --member "$invoker" --role roles/run.invoker --quiet
  done
fi

URL_COMMAND=(gcloud run services describe "$SERVICE" --project "$PROJECT_ID" --region "$REGION" --format 'value(status.url)')
if [[ $DRY_RUN == true ]]; then
  quote_command "${URL_COMMAND[@]}"
  # shellcheck disable=SC2016 # a placeholder the reader fills in, not an expansion
  URL='$SERVICE_URL'
  PREFIX='# '
else
  URL=$(run "${URL_COMMAND[@]}")
  PREFIX=''
fi
TOKEN="\$(gcloud auth print-identity-token --audiences=$URL)"
cat <<EOF
${PREFIX}Service URL: $URL
${PREFIX}First request (Cloud Run checks this identity token before jobgate sees the request):
${PREFIX}  curl -H "Authorization: Bearer $TOKEN" $URL/v1/jobs
${PREFIX}Start a run of "$FIRST_JOB":
${PREFIX}  curl -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
${PREFIX}    -d '{"args": ["hello"]}' $URL/v1/jobs/$FIRST_JOB/runs
${PREFIX}(--audiences needs a service-account identity: add --impersonate-service-account=SA_EMAIL when logged in as a user)
EOF
