import t from 'tap'
import { redactEnv } from '../../job/redact.js'

t.test('redacts secret-looking names, case-insensitively, and keeps the rest', async t => {
  t.same(redactEnv({
    API_TOKEN: 'a',
    github_token: 'b',
    ClientSecret: 'c',
    DB_PASSWORD: 'd',
    apiKey: 'e',
    GOOGLE_APPLICATION_CREDENTIALS: 'f',
    TENANT_ID: 'acme',
    DATE: '2026-11-23',
    UNSET: undefined
  }), {
    API_TOKEN: '[REDACTED]',
    github_token: '[REDACTED]',
    ClientSecret: '[REDACTED]',
    DB_PASSWORD: '[REDACTED]',
    apiKey: '[REDACTED]',
    GOOGLE_APPLICATION_CREDENTIALS: '[REDACTED]',
    TENANT_ID: 'acme',
    DATE: '2026-11-23'
  })
})

t.test('does not modify its input', async t => {
  const env = { MY_KEY: 'v' }
  redactEnv(env)
  t.same(env, { MY_KEY: 'v' })
})
