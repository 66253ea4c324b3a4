/** The run events' settings: JOBGATE_EVENTS_TOPIC, PUBSUB_EMULATOR_HOST, JOBGATE_LEASE_SECONDS, and the events' source. */
import t from 'tap'
import { loadConfig } from '../../api/config.js'
import { ConfigError } from '../../api/config-error.js'

const LOCAL = { JOBGATE_MODE: 'local' }

t.test('defaults: no topic (the firehose only), Pub/Sub\'s real endpoint, 15 s leases, 24 h of events', async t => {
  const { lifecycle } = loadConfig(LOCAL)
  t.equal(lifecycle.topic, undefined)
  t.equal(lifecycle.pubsubEndpoint, 'https://pubsub.googleapis.com')
  t.equal(lifecycle.pubsubEmulator, false)
  t.equal(lifecycle.leaseMs, 15_000)
  t.equal(lifecycle.retentionMs, 86_400_000)
  t.equal(lifecycle.source, '//run.googleapis.com/projects/local-project/locations/us-central1/services/jobgate')
})

t.test('a topic, the emulator as Google\'s clients find it, the service name Cloud Run sets', async t => {
  const { lifecycle } = loadConfig({
    ...LOCAL,
    JOBGATE_EVENTS_TOPIC: 'projects/my-project/topics/run-events',
    PUBSUB_EMULATOR_HOST: 'localhost:8085',
    K_SERVICE: 'jobgate-api',
    JOBGATE_MODE: 'cloud',
    JOBGATE_AUTH: 'none',
    JOBGATE_ALLOW_UNAUTHENTICATED: 'true',
    GOOGLE_CLOUD_PROJECT: 'my-project',
    CLOUD_RUN_REGION: 'europe-west1',
    JOBGATE_JOBS: '{"jobs":{"echo":{}}}',
    JOBGATE_LEASE_SECONDS: '30'
  })
  t.equal(lifecycle.topic, 'projects/my-project/topics/run-events')
  t.equal(lifecycle.pubsubEndpoint, 'http://localhost:8085')
  t.equal(lifecycle.pubsubEmulator, true)
  t.equal(lifecycle.leaseMs, 30_000)
  t.equal(lifecycle.source, '//run.googleapis.com/projects/my-project/locations/europe-west1/services/jobgate-api')
})

t.test('a bad topic, emulator host or lease stops the start, naming the variable', async t => {
  const refused = (env: Record<string, string>, variable: string, message: RegExp): void => {
    let thrown: unknown
    try {
      loadConfig({ ...LOCAL, ...env })
    } catch (err) {
      thrown = err
    }
    t.ok(thrown instanceof ConfigError && thrown.message.startsWith(variable) && message.test(thrown.message), `${variable}: ${String(thrown)}`)
  }
  refused({ JOBGATE_EVENTS_TOPIC: 'run-events' }, 'JOBGATE_EVENTS_TOPIC', /projects\/PROJECT\/topics\/TOPIC/)
  refused({ JOBGATE_EVENTS_TOPIC: 'projects/my-project/topics/goog-events' }, 'JOBGATE_EVENTS_TOPIC', /not "goog"/)
  refused({ JOBGATE_EVENTS_TOPIC: 'projects/my-project/topics/ab' }, 'JOBGATE_EVENTS_TOPIC', /3 to 255/)
  refused({ JOBGATE_EVENTS_TOPIC: 'projects/My Project/topics/run-events' }, 'JOBGATE_EVENTS_TOPIC', /projects\/PROJECT/)
  refused({ PUBSUB_EMULATOR_HOST: 'http://localhost:8085' }, 'PUBSUB_EMULATOR_HOST', /host:port/)
  refused({ JOBGATE_LEASE_SECONDS: '1' }, 'JOBGATE_LEASE_SECONDS', /from 2 to 600/)
})
