import { readFileSync } from 'node:fs'
import { ConfigError } from '../config-error.js'
import { parseApiKeys } from './api-key-config.js'
import type { ApiKeyEntry, AuthConfig, AuthMode } from './types.js'

/** Where verifyIdToken fetches Google's certificates on Node (v1: PEM certificates keyed by kid). */
export const GOOGLE_CERTS_URL = 'https://www.googleapis.com/oauth2/v1/certs'

const MODES: readonly AuthMode[] = ['apikey', 'google']

/**
 * Reads the authentication settings. Settings of a mode are read only when that mode is on.
 * Throws ConfigError naming the variable on any bad or missing value.
 */
export function loadAuthConfig (env: NodeJS.ProcessEnv, mode: 'local' | 'cloud'): AuthConfig {
  const allowFlag = readBoolean(env, 'JOBGATE_ALLOW_UNAUTHENTICATED')
  const modes = readModes(env, mode)
  if (modes.length === 0 && mode === 'cloud' && !allowFlag) {
    throw new ConfigError('JOBGATE_AUTH', 'none is refused in cloud mode unless JOBGATE_ALLOW_UNAUTHENTICATED=true (anyone could start jobs)')
  }
  return {
    modes,
    apiKeys: modes.includes('apikey') ? readApiKeys(env) : [],
    audiences: modes.includes('google') ? readAudiences(env) : [],
    certsUrl: modes.includes('google') ? readCertsUrl(env) : GOOGLE_CERTS_URL,
    allowUnauthenticated: allowFlag || mode === 'local'
  }
}

function readModes (env: NodeJS.ProcessEnv, mode: 'local' | 'cloud'): AuthMode[] {
  const raw = env.JOBGATE_AUTH?.trim() ?? ''
  if (raw === '') {
    if (mode === 'local') return []
    throw new ConfigError('JOBGATE_AUTH', 'required in cloud mode: set apikey, google, apikey,google, or none')
  }
  if (raw === 'none') return []
  const words = raw.split(',').map(part => part.trim())
  if (words.includes('none')) throw new ConfigError('JOBGATE_AUTH', 'none cannot be combined with other modes')
  if (words.includes('')) throw new ConfigError('JOBGATE_AUTH', 'has an empty entry in the comma list')
  const modes: AuthMode[] = []
  for (const word of words) {
    const known = MODES.find(candidate => candidate === word)
    if (known === undefined) {
      throw new ConfigError('JOBGATE_AUTH', `unknown mode "${word}": use none, or a comma list of apikey, google`)
    }
    if (!modes.includes(known)) modes.push(known)
  }
  return modes
}

function readBoolean (env: NodeJS.ProcessEnv, variable: string): boolean {
  const raw = env[variable]?.trim() ?? ''
  if (raw === '' || raw === 'false') return false
  if (raw === 'true') return true
  throw new ConfigError(variable, `must be true or false, got "${raw}"`)
}

function readApiKeys (env: NodeJS.ProcessEnv): ApiKeyEntry[] {
  const inline = env.JOBGATE_API_KEYS?.trim() ?? ''
  const path = env.JOBGATE_API_KEYS_FILE?.trim() ?? ''
  if (inline !== '' && path !== '') {
    throw new ConfigError('JOBGATE_API_KEYS', 'set either JOBGATE_API_KEYS or JOBGATE_API_KEYS_FILE, not both')
  }
  if (inline !== '') return parseApiKeys(inline, 'JOBGATE_API_KEYS')
  if (path === '') {
    throw new ConfigError('JOBGATE_API_KEYS', 'required when JOBGATE_AUTH includes apikey (or set JOBGATE_API_KEYS_FILE)')
  }
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable'
    throw new ConfigError('JOBGATE_API_KEYS_FILE', `cannot read ${path} (${code})`)
  }
  return parseApiKeys(text, 'JOBGATE_API_KEYS_FILE')
}

function readAudiences (env: NodeJS.ProcessEnv): string[] {
  const raw = env.JOBGATE_AUDIENCE?.trim() ?? ''
  if (raw === '') {
    throw new ConfigError('JOBGATE_AUDIENCE', 'required when JOBGATE_AUTH includes google: the service URL (or custom audience) callers request ID tokens for')
  }
  const audiences = raw.split(',').map(part => part.trim())
  if (audiences.includes('')) throw new ConfigError('JOBGATE_AUDIENCE', 'has an empty entry in the comma list')
  return [...new Set(audiences)]
}

/** https only, except plain http to the loopback host (tests serving their own certificates). */
function readCertsUrl (env: NodeJS.ProcessEnv): string {
  const raw = env.JOBGATE_GOOGLE_CERTS_URL?.trim() ?? ''
  if (raw === '') return GOOGLE_CERTS_URL
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new ConfigError('JOBGATE_GOOGLE_CERTS_URL', `not a URL: "${raw}"`)
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new ConfigError('JOBGATE_GOOGLE_CERTS_URL', 'must be an https URL (plain http only to 127.0.0.1, localhost or [::1])')
  }
  return url.toString()
}
