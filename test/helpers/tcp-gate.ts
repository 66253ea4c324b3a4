import { createConnection, createServer, type Server, type Socket } from 'node:net'

/**
 * A TCP relay a test can shut and open again on the same port: to a client of `host:port` the
 * service behind it is down (connections refused) while shut, whatever the target does meanwhile.
 */
export class TcpGate {
  #port = 0
  #target: string
  #server: Server | undefined
  readonly #sockets = new Set<Socket>()

  constructor (target: string) {
    this.#target = target
  }

  /** A gate to `target`, open on a free loopback port. */
  static async open (target: string): Promise<TcpGate> {
    const gate = new TcpGate(target)
    await gate.reopen()
    return gate
  }

  get hostPort (): string { return `127.0.0.1:${this.#port}` }

  async #listen (port: number): Promise<void> {
    const server = createServer(client => {
      const [host, targetPort] = this.#target.split(':') as [string, string]
      const upstream = createConnection({ host, port: Number(targetPort) })
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket)
        socket.once('close', () => { this.#sockets.delete(socket) })
        socket.on('error', () => { client.destroy(); upstream.destroy() })
      }
      client.pipe(upstream).pipe(client)
    })
    this.#server = server
    await new Promise<void>(resolve => server.listen(port, '127.0.0.1', resolve))
    const address = server.address()
    this.#port = typeof address === 'object' && address !== null ? address.port : port
  }

  /** Refuses new connections and cuts the open ones. */
  async shut (): Promise<void> {
    const server = this.#server
    this.#server = undefined
    for (const socket of this.#sockets) socket.destroy()
    if (server !== undefined) await new Promise(resolve => server.close(resolve))
  }

  async reopen (): Promise<void> {
    if (this.#server === undefined) await this.#listen(this.#port)
  }
}
