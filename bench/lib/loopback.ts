import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Loopback {
  /** `http://127.0.0.1:<port>` */
  url: string
  /** `127.0.0.1:<port>` */
  host: string
  /** Drops open connections too, so a kept-alive client cannot hold the close up. */
  close: () => Promise<void>
}

/** Listens on a free loopback port (the bench's stand-ins and the tests' alike). */
export async function listenOnLoopback (server: Server): Promise<Loopback> {
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => { resolve() }))
    }
  }
}
