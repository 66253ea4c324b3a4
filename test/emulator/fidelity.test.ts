import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { run_v1 } from '@googleapis/run'
import { GoogleAuth } from 'google-auth-library'
import * as gcpMetadata from 'gcp-metadata'
import { condition, executionFilter, fetchToken, client, isDone, listAllEntries, pollExecution, startTestEmulator } from './helpers.js'

/**
 * Google's own clients against the emulator: google-auth-library finds the "metadata server"
 * through GCE_METADATA_HOST, and the generated Cloud Run v1 client (@googleapis/run) runs a job
 * with overrides and reads the execution back.
 */

const saved = { ...process.env }
t.teardown(() => {
  for (const name of ['GCE_METADATA_HOST', 'CLOUDSDK_CONFIG', 'GOOGLE_APPLICATION_CREDENTIALS', 'METADATA_SERVER_DETECTION']) {
    if (saved[name] === undefined) delete process.env[name]
    else process.env[name] = saved[name]
  }
})

t.test('GoogleAuth gets a token from the emulated metadata server; the Run v1 client uses it', async t => {
  const emulator = await startTestEmulator(t, { projectId: 'acme-prod', projectNumber: '4242', jobs: [{ project: 'acme-prod', name: 'echo-job', maxRetries: 0 }] })
  process.env.GCE_METADATA_HOST = emulator.hostPort
  // No Application Default Credentials may be found before the metadata server.
  process.env.CLOUDSDK_CONFIG = mkdtempSync(join(tmpdir(), 'no-gcloud-'))
  delete process.env.GOOGLE_APPLICATION_CREDENTIALS
  delete process.env.METADATA_SERVER_DETECTION

  t.equal(await gcpMetadata.isAvailable(), true, 'gcp-metadata detects the metadata server')
  t.equal(await gcpMetadata.project('project-id'), 'acme-prod')
  t.equal(await gcpMetadata.instance('region'), 'projects/4242/regions/us-central1')
  t.equal(await gcpMetadata.instance('service-accounts/default/email'), '4242-compute@developer.gserviceaccount.com')

  const auth = new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] })
  const token = await auth.getAccessToken()
  t.match(token, /^ya29\.emulator-/)
  const tokenRequest = emulator.requests.find(r => r.path.endsWith('/service-accounts/default/token'))
  t.equal(tokenRequest?.headers['metadata-flavor'], 'Google')

  // googleapis-common carries its own copy of google-auth-library, so the types differ but the object works.
  const runClient = new run_v1.Run({ rootUrl: `${emulator.url}/`, auth: auth as never })
  const started = await runClient.namespaces.jobs.run({
    name: 'namespaces/acme-prod/jobs/echo-job',
    requestBody: {
      overrides: {
        containerOverrides: [{ args: ['from-googleapis'], env: [{ name: 'TENANT_ID', value: 'acme' }] }],
        taskCount: 2,
        timeoutSeconds: 30
      }
    }
  })
  t.equal(started.status, 200)
  const name = started.data.metadata?.name as string
  t.match(name, /^echo-job-[a-z0-9]{5}$/)
  const runRequest = emulator.requests.find(r => r.path.endsWith('/jobs/echo-job:run'))
  t.equal(runRequest?.headers.authorization, `Bearer ${token}`)

  const fetched = await runClient.namespaces.executions.get({ name: `namespaces/4242/executions/${name}` })
  t.equal(fetched.data.metadata?.name, name)
  t.equal(fetched.data.spec?.taskCount, 2)
  t.equal(fetched.data.spec?.template?.spec?.timeoutSeconds, '30')

  const api = client(emulator, await fetchToken(emulator))
  const done = await pollExecution(api, 'acme-prod', name, isDone)
  t.equal(condition(done, 'Completed')?.status, 'True')

  const listed = await runClient.namespaces.executions.list({ parent: 'namespaces/acme-prod', labelSelector: 'run.googleapis.com/job=echo-job', limit: 10 })
  t.same(listed.data.items?.map(item => item.metadata?.name), [name])
  t.equal(listed.data.kind, 'ExecutionsList')
  t.equal(listed.data.items?.[0]?.status?.succeededCount, 2)

  const job = await runClient.namespaces.jobs.get({ name: 'namespaces/acme-prod/jobs/echo-job' })
  t.equal(job.data.status?.executionCount, 1)
  t.equal(job.data.status?.latestCreatedExecution?.name, name)
  t.equal(job.data.status?.latestCreatedExecution?.completionStatus, 'EXECUTION_SUCCEEDED')

  const entries = await listAllEntries(api, 'acme-prod', executionFilter('echo-job', 'us-central1', name, new Date(done.metadata.creationTimestamp)))
  t.same(entries.filter(e => e.jsonPayload?.message === 'args').map(e => e.jsonPayload?.args), [['from-googleapis'], ['from-googleapis']])

  const cancelled = runClient.namespaces.executions.cancel({ name: `namespaces/acme-prod/executions/${name}`, requestBody: {} })
  await t.rejects(cancelled, { message: /has already completed and cannot be cancelled/ }, 'a finished execution cannot be cancelled')
  const deleted = await runClient.namespaces.executions.delete({ name: `namespaces/acme-prod/executions/${name}` })
  t.match(deleted.data, { kind: 'Status', status: 'Success', details: { name, kind: 'executions' } })
})
