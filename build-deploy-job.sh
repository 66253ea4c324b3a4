#!/usr/bin/env bash
# Build the jobgate companion job image (Dockerfile.job), push it to Artifact Registry and
# create or update the Cloud Run job with exactly that image. Safe to run again.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=build-deploy-common.sh
source "$ROOT/build-deploy-common.sh"

usage() {
  cat <<'EOF'
Usage: build-deploy-job.sh [--dry-run] [--help]

Builds Dockerfile.job, pushes it to Artifact Registry and deploys it as a Cloud Run job
(create or update). Runs as its own service account, which is given no roles.

Required variables:
  PROJECT_ID           Google Cloud project id
  REGION               region of the job and of the Artifact Registry repository
  REPOSITORY           Artifact Registry Docker repository (created when missing)
  JOB_NAME             Cloud Run job name

Optional variables:
  IMAGE_NAME           image name in the repository           (default: jobgate-job)
  IMAGE_TAG            image tag                               (default: git short sha, else a UTC timestamp)
  JOB_SERVICE_ACCOUNT  runtime service account id, created when missing (default: jobgate-job)
  TASKS                tasks per execution                     (default: 1)
  MAX_RETRIES          retries per failed task                 (default: 3)
  TASK_TIMEOUT         time limit per task attempt, e.g. 600s, 10m, 1h (default: 600s)
  PARALLELISM          tasks running at once; 0 = as many as possible (default: 0)

Options:
  --dry-run            print every command (copy-pasteable), run none
  --help               show this help

Example:
  PROJECT_ID=my-project REGION=europe-west1 REPOSITORY=jobgate JOB_NAME=echo-job \
    ./build-deploy-job.sh
EOF
}

parse_args "$@"

require_registry_settings
require JOB_NAME
check_format JOB_NAME '^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$' 'a Cloud Run job name (a-z, 0-9, -; at most 63 characters)'
check_format IMAGE_NAME '^[a-z0-9]+([._/-][a-z0-9]+)*$' 'an image name (a-z, 0-9, . _ - /)'
check_format JOB_SERVICE_ACCOUNT '^[a-z][a-z0-9-]{4,28}[a-z0-9]$' 'a service account id (6-30 characters: a-z, 0-9, -)'
check_format TASKS '^[1-9][0-9]*$' 'a whole number >= 1'
check_format MAX_RETRIES '^[0-9]+$' 'a whole number >= 0'
check_format TASK_TIMEOUT '^[0-9]+[smh]?$' 'a duration such as 600, 600s, 10m or 1h'
check_format PARALLELISM '^[0-9]+$' 'a whole number >= 0'
fail_if_invalid
require_tools gcloud docker

IMAGE_TAG=${IMAGE_TAG:-$(default_image_tag)}
IMAGE=$(image_ref "${IMAGE_NAME:-jobgate-job}")
RUNTIME_ACCOUNT=$(service_account_email "${JOB_SERVICE_ACCOUNT:-jobgate-job}")

cd "$ROOT"
if [[ $DRY_RUN == true ]]; then quote_command cd "$ROOT"; fi

ensure_repository
build_and_push Dockerfile.job "$IMAGE"
# Its own identity, not the Compute Engine default account (which often holds Editor).
ensure_service_account "${JOB_SERVICE_ACCOUNT:-jobgate-job}" "jobgate companion job"
run gcloud run jobs deploy "$JOB_NAME" --project "$PROJECT_ID" --region "$REGION" \
  --image "$IMAGE" --service-account "$RUNTIME_ACCOUNT" \
  --tasks "${TASKS:-1}" --max-retries "${MAX_RETRIES:-3}" \
  --task-timeout "${TASK_TIMEOUT:-600s}" --parallelism "${PARALLELISM:-0}" --quiet

if [[ $DRY_RUN == true ]]; then
  log "# dry run: nothing was run"
  exit 0
fi
cat >&2 <<EOF

Job $JOB_NAME deployed with image $IMAGE
Run it once directly:
  gcloud run jobs execute $JOB_NAME --project $PROJECT_ID --region $REGION --wait
Catalog entry for build-deploy-api.sh (jobs.json):
  {"jobs": {"echo": {"job": "$JOB_NAME", "project": "$PROJECT_ID", "region": "$REGION"}}}
EOF
