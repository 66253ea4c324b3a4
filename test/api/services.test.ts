import t from 'tap'
import { ConfigError } from '../../api/config-error.js'
import { loadConfig } from '../../api/config.js'
import { createServices } from '../../api/services.js'
import { captureLogs } from '../helpers/log-capture.js'
import { FakeCloudRun } from '../helpers/fake-cloud-run.js'
import { noLogs, UNIT_ENV } from '../helper.js'

const JOBS = JSON.stringify({ jobs: { echo: {}, nobodys: {} } })

t.test('createServices: start-up lines name what is open to whom and where keys are kept', async t => {
  const logs = captureLogs()
  const services = await createServices(loadConfig({ ...UNIT_ENV, JOBGATE_JOBS: JOBS }), {
    cloudRun: new FakeCloudRun(),
    logs: noLogs,
    logger: logs.logger
  })
  t.teardown(services.close)
  t.same(logs.lines.map(line => line.message), [
    'authentication is off (JOBGATE_AUTH=none): anyone who can reach jobgate can run its jobs',
    'idempotency keys kept in memory (one instance only)',
    'run events: GET /v1/events only (set JOBGATE_EVENTS_TOPIC to publish them to Pub/Sub)'
  ])
  t.equal(services.emulator, undefined, 'cloud mode starts no emulator')
  t.equal(services.config.runApiEndpoint, undefined)
})

t.test('createServices: a part it cannot build is a ConfigError, and what was built is released', async t => {
  const config = loadConfig({ ...UNIT_ENV, JOBGATE_JOBS: JOBS })
  const logs = captureLogs()
  await t.rejects(createServices({ ...config, auth: { ...config.auth, modes: ['apikey'], apiKeys: [] } }, { logger: logs.logger }), ConfigError)
})

t.test('createServices in local mode: the embedded emulator, closed by close()', async t => {
  const logs = captureLogs()
  const services = await createServices(loadConfig({ JOBGATE_MODE: 'local', JOBGATE_JOBS: JOBS }), { logger: logs.logger })
  const emulator = services.emulator
  t.ok(emulator, 'an emulator')
  t.equal(services.config.runApiEndpoint, emulator?.url, 'the Cloud Run client points at it')
  await services.close()
  await t.rejects(fetch(`${emulator?.url ?? ''}/computeMetadata/v1/`), 'closed with the services')
  await services.close()
  t.pass('a second close does nothing')
})
