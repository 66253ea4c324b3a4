#!/usr/bin/env bash
# Stub for `gcloud` and `docker` in the deploy-script tests (test/deploy/stubs.ts copies it into a
# temp bin/ under both names). Appends {tool, cwd, args} as one JSON line to $STUB_LOG; keeps the
# service accounts, repositories, topics, composite indexes and Firestore databases (file content: the mode) it "created" in
# $STUB_STATE, so `describe` fails until `create`;
# fails calls whose argv contains $STUB_FAIL_ONCE (the first such call only) or $STUB_FAIL_ALWAYS.
set -u
json() {
  local s=$1
  s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\n'/\\n}; s=${s//$'\t'/\\t}; s=${s//$'\r'/\\r}
  printf '"%s"' "$s"
}
tool=${0##*/}
line="{\"tool\":$(json "$tool"),\"cwd\":$(json "$PWD"),\"args\":["
sep=""
for arg in "$@"; do line+="$sep$(json "$arg")"; sep=","; done
printf '%s]}\n' "$line" >>"$STUB_LOG"

flag() { # value of the option $1 (e.g. --project) in the call's argv
  local previous=""
  for arg in "${ARGS[@]}"; do
    if [[ $previous == "$1" ]]; then printf '%s' "$arg"; return; fi
    previous=$arg
  done
}
ARGS=("$@")
joined=" $* "
if [[ -n ${STUB_FAIL_ALWAYS:-} && $joined == *"$STUB_FAIL_ALWAYS"* ]]; then
  echo "stub: failing as asked" >&2; exit 1
fi
if [[ -n ${STUB_FAIL_ONCE:-} && $joined == *"$STUB_FAIL_ONCE"* && ! -e $STUB_STATE/failed-once ]]; then
  touch "$STUB_STATE/failed-once"; echo "stub: failing once as asked" >&2; exit 1
fi

case "$tool ${1:-} ${2:-} ${3:-}" in
  "gcloud iam service-accounts describe")
    [[ -e $STUB_STATE/sa-$4 ]] || { echo "ERROR: NOT_FOUND: $4" >&2; exit 1; } ;;
  "gcloud iam service-accounts create")
    touch "$STUB_STATE/sa-$4@$(flag --project).iam.gserviceaccount.com" ;;
  "gcloud artifacts repositories describe")
    [[ -e $STUB_STATE/repo-$4 ]] || { echo "ERROR: NOT_FOUND: $4" >&2; exit 1; } ;;
  "gcloud artifacts repositories create")
    touch "$STUB_STATE/repo-$4" ;;
  "gcloud firestore databases describe")
    [[ -e $STUB_STATE/db-$(flag --database) ]] || { echo "ERROR: NOT_FOUND: database" >&2; exit 1; }
    if [[ -n $(flag --format) ]]; then cat "$STUB_STATE/db-$(flag --database)"; fi ;;
  "gcloud firestore databases create")
    echo FIRESTORE_NATIVE >"$STUB_STATE/db-$(flag --database)" ;;
  "gcloud firestore indexes composite")
    index=$STUB_STATE/index-$(flag --collection-group)
    [[ ! -e $index ]] || { echo "ERROR: (gcloud.firestore.indexes.composite.create) ALREADY_EXISTS: index already exists" >&2; exit 1; }
    touch "$index" ;;
  "gcloud pubsub topics describe")
    [[ -e $STUB_STATE/topic-$4 ]] || { echo "ERROR: NOT_FOUND: $4" >&2; exit 1; } ;;
  "gcloud pubsub topics create")
    touch "$STUB_STATE/topic-$4" ;;
  "gcloud run services describe")
    printf 'https://%s-123456789012.%s.run.app\n' "$4" "$(flag --region)" ;;
  "docker buildx build "*)
    [[ -f $(flag -f) ]] || { echo "stub docker: no Dockerfile $(flag -f) in $PWD" >&2; exit 1; } ;;
esac
exit 0
