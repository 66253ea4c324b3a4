import { ConfigError } from './config-error.js'

/** A socket that cannot be opened is a setting to change: the ConfigError naming it; any other error as it was. */
export function listenError (err: unknown, host: string, port: number): unknown {
  switch ((err as NodeJS.ErrnoException | undefined)?.code) {
    case 'EADDRINUSE': return new ConfigError('PORT', `${port} on ${host} is in use by another process; stop it, or set PORT to a free port`)
    case 'EACCES': return new ConfigError('PORT', `${port} on ${host} needs privileges this process lacks; set PORT to 1024 or above`)
    case 'EADDRNOTAVAIL': return new ConfigError('HOST', `${host} is not an address of this machine`)
    default: return err
  }
}
