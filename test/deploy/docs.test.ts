import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { repoRoot } from './stubs.js'

const doc = readFileSync(join(repoRoot, 'docs/deploy.md'), 'utf8')

t.test('docs/deploy.md covers the path from an empty project to a verified run', async t => {
  for (const step of [
    'gcloud services enable run.googleapis.com artifactregistry.googleapis.com iam.googleapis.com',
    'gcloud artifacts repositories create',
    './build-deploy-job.sh',
    './build-deploy-api.sh',
    'gcloud auth print-identity-token',
    'jobgate run echo --arg hello --env GREETING=hi --wait --logs',
    '/v1/jobs/echo/runs/$RUN/logs',
    '## Least privilege',
    '## Tearing down'
  ]) t.ok(doc.includes(step), step)
})

t.test('the Cloud Logging filter is the exact one to paste', async t => {
  t.ok(doc.includes([
    'resource.type="cloud_run_job"',
    'AND resource.labels.job_name="echo-job"',
    'AND labels."run.googleapis.com/execution_name"="echo-job-x7k2p"'
  ].join('\n')))
})

t.test('every variable the scripts require is explained', async t => {
  for (const name of ['PROJECT_ID', 'REGION', 'REPOSITORY', 'JOB_NAME', 'JOBGATE_AUTH', 'JOBGATE_AUDIENCE', 'CATALOG_FILE',
    'JOBGATE_API_KEYS_SECRET', 'ALLOW_UNAUTHENTICATED', 'INVOKERS', 'MAX_INSTANCES', 'JOBGATE_IDEMPOTENCY', 'JOBGATE_FIRESTORE_DATABASE',
    'FIRESTORE_LOCATION']) {
    t.ok(doc.includes(name), name)
  }
  for (const role of ['roles/run.jobsExecutorWithOverrides', 'roles/run.viewer', 'roles/logging.viewer', 'roles/run.invoker', 'roles/datastore.user']) {
    t.ok(doc.includes(role), role)
  }
})
