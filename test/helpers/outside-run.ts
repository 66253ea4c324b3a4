import type { Emulator } from '../../emulator/index.js'

/**
 * `gcloud run jobs execute`: a run Cloud Run starts with no jobgate in between, straight at the emulator
 * (with a token from its metadata server). jobgate's reconcilers do not follow it unless the job's catalog
 * entry says `events.external`, so reading it costs jobgate reads of its own.
 */
export async function startOutside (
  emulator: Pick<Emulator, 'hostPort' | 'url' | 'projectId'>, job: string, env: Record<string, string> = {}, args?: string[]
): Promise<string> {
  const token = await fetch(`http://${emulator.hostPort}/computeMetadata/v1/instance/service-accounts/default/token`, { headers: { 'metadata-flavor': 'Google' } })
  const { access_token: accessToken } = await token.json() as { access_token: string }
  const containerOverrides = [{ env: Object.entries(env).map(([name, value]) => ({ name, value })), ...(args !== undefined && { args }) }]
  const overrides = Object.keys(env).length === 0 && args === undefined ? {} : { overrides: { containerOverrides } }
  const response = await fetch(`${emulator.url}/apis/run.googleapis.com/v1/namespaces/${emulator.projectId}/jobs/${job}:run`, {
    method: 'POST',
    headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(overrides)
  })
  const execution = await response.json() as { metadata?: { name?: string } }
  const name = execution.metadata?.name
  if (response.status !== 200 || name === undefined) throw new Error(`a run outside jobgate failed: ${response.status} ${JSON.stringify(execution)}`)
  return name
}
