import { ConfigError } from '../config-error.js'
import { flag, inlineOrFile, list, quote, text, type Env } from '../env.js'
import { parseApiKeys } from './api-key-config.js'
import type { ApiKeyEntry, AuthConfig, AuthMode } from './types.js'

/** Where verifyIdToken fetches Google's certificates on Node (v1: PEM certificates keyed by kid). */
export const GOOGLE_CERTS_URL = 'https://www.googleapis.com/oauth2/v1/certs'

const MODES: readonly AuthMode[] = ['apikey', 'google']

/**
 * Reads the authentication settings. Settings of a mode are read only when that mode is on.
 * Throws ConfigError naming the variable on any bad or missing value.
 */
export function loadAuthConfig (env: Env, mode: 'local' | 'cloud'): AuthConfig {
  const allowFlag = flag(env, 'JOBGATE_ALLOW_UNAUTHENTICATED')
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

function readModes (env: Env, mode: 'local' | 'cloud'): AuthMode[] {
  const words = list(env, 'JOBGATE_AUTH')
  if (words === undefined) {
    if (mode === 'local') return []
    throw new ConfigError('JOBGATE_AUTH', 'required in cloud mode: set apikey, google, apikey,google, or none')
  }
  if (words.length === 1 && words[0] === 'none') return []
  if (words.includes('none')) throw new ConfigError('JOBGATE_AUTH', 'none cannot be combined with other modes')
  const modes: AuthMode[] = []
  for (const word of words) {
    const known = MODES.find(candidate => candidate === word)
    if (known === undefined) {
      throw new ConfigError('JOBGATE_AUTH', `unknown mode ${quote(word)}: use none, or a comma list of apikey, google`)
    }
    if (!modes.includes(known)) modes.push(known)
  }
  return modes
}

function readApiKeys (env: Env): ApiKeyEntry[] {
  const source = inlineOrFile(env, 'JOBGATE_API_KEYS')
  if (source === undefined) {
    throw new ConfigError('JOBGATE_API_KEYS', 'required when JOBGATE_AUTH includes apikey (or set JOBGATE_API_KEYS_FILE)')
  }
  return parseApiKeys(source.text, source.variable)
}

function readAudiences (env: Env): string[] {
  const audiences = list(env, 'JOBGATE_AUDIENCE')
  if (audiences === undefined) {
    throw new ConfigError('JOBGATE_AUDIENCE', 'required when JOBGATE_AUTH includes google: the service URL (or custom audience) callers request ID tokens for')
  }
  return [...new Set(audiences)]
}

/** https only, except plain http to the loopback host (tests serving their own certificates). */
function readCertsUrl (env: Env): string {
  const raw = text(env, 'JOBGATE_GOOGLE_CERTS_URL')
  if (raw === undefined) return GOOGLE_CERTS_URL
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new ConfigError('JOBGATE_GOOGLE_CERTS_URL', `not a URL: ${quote(raw)}`)
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new ConfigError('JOBGATE_GOOGLE_CERTS_URL', 'must be an https URL (plain http only to 127.0.0.1, localhost or [::1])')
  }
  return url.toString()
}
