import { isIP } from 'node:net'

/** A listen address only this machine can reach: 127.0.0.0/8, ::1 or localhost. */
export function isLoopbackAddress (host: string): boolean {
  const name = host.toLowerCase().replace(/^\[(.*)\]$/, '$1')
  return name === 'localhost' || name === '::1' || (isIP(name) === 4 && name.startsWith('127.'))
}

/**
 * Whether a Host header's name may address local mode: a loopback name (localhost, *.localhost), an IP
 * literal, `listenHost` as configured, or Cloud Shell's Web Preview (*.cloudshell.dev, which keeps the
 * preview's name as Host). DNS rebinding needs a name an attacker controls that resolves here; an IP
 * literal is the address itself, *.localhost never leaves the machine (RFC 6761), and Google alone
 * resolves *.cloudshell.dev.
 */
export function isLocalHostHeader (host: string | undefined, listenHost: string): boolean {
  if (host === undefined) return true
  const name = host.toLowerCase().replace(/:\d*$/, '').replace(/^\[(.*)\]$/, '$1')
  return name === 'localhost' || name.endsWith('.localhost') || name.endsWith('.cloudshell.dev') || isIP(name) !== 0 ||
    name === listenHost.toLowerCase()
}
