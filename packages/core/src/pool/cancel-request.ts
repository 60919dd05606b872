import { connect, type Socket } from 'node:net'

const CANCEL_REQUEST_CODE = 80877102

/** Where to send a cancel request, and which backend (or PgBouncer client) it names. */
export interface CancelTarget {
  readonly host: string
  readonly port: number
  readonly processId: number
  readonly secretKey: number
  readonly timeoutMs: number
}

/**
 * Sends a PostgreSQL CancelRequest on a new socket, the way libpq's `PQcancel` does. It works
 * through PgBouncer, which forwards it to the server connection its client is paired with.
 * Best effort: it resolves whether or not the server could be reached.
 */
export function sendCancelRequest(target: CancelTarget): Promise<void> {
  const packet = Buffer.alloc(16)
  packet.writeInt32BE(16, 0)
  packet.writeInt32BE(CANCEL_REQUEST_CODE, 4)
  packet.writeInt32BE(target.processId, 8)
  packet.writeInt32BE(target.secretKey, 12)
  return new Promise((resolve) => {
    const socket: Socket = target.host.startsWith('/')
      ? connect({ path: `${target.host}/.s.PGSQL.${target.port}` })
      : connect({ host: target.host, port: target.port })
    socket.setTimeout(target.timeoutMs, () => socket.destroy())
    // Like libpq, wait for the server to close the socket: PgBouncer drops a cancel whose
    // sender hangs up before it has been forwarded.
    socket.once('connect', () => socket.write(packet))
    socket.once('end', () => socket.destroy())
    socket.once('error', () => socket.destroy())
    socket.once('close', () => resolve())
  })
}
