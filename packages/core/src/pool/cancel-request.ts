import { connect, type Socket } from 'node:net'

const CANCEL_REQUEST_CODE = 80877102

/** Where to send a cancel request, and which backend (or PgBouncer client) it names. */
export interface CancelTarget {
  readonly host: string
  readonly port: number
  readonly processId: number
  readonly secretKey: number
  /** How long connecting may take; once connected, the server closes the socket. */
  readonly timeoutMs: number
}

/** TCP keepalive on a cancel socket: a peer that is gone ends it, not a timer of ours. */
const KEEPALIVE_MS = 10_000

/**
 * Sends a PostgreSQL CancelRequest on a new socket, the way libpq's `PQcancel` does. It works
 * through PgBouncer, which forwards it to the server connection its client is paired with.
 * Best effort: it resolves whether or not the server could be reached.
 *
 * Once the request is written, the socket stays open until the server closes it, as libpq's
 * does, however long that takes (unreferenced, so it never keeps the process alive; TCP
 * keepalive ends it if the peer is gone). Hanging up first crashes PgBouncer 1.18: a cancel
 * whose sender is gone before PgBouncer has forwarded it (a link that held both, then
 * delivered them together) ends PgBouncer on `FATAL ... disconnect_client(): bad client state`
 * (PgBouncer issue 801; fixed after 1.18), which a client on a deadline would provoke whenever
 * the link to PgBouncer stalls for longer than that deadline.
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
    socket.unref()
    socket.setTimeout(target.timeoutMs, () => socket.destroy())
    socket.once('connect', () => {
      socket.setTimeout(0)
      socket.setKeepAlive(true, KEEPALIVE_MS)
      socket.write(packet)
    })
    socket.once('end', () => socket.destroy())
    socket.once('error', () => socket.destroy())
    socket.once('close', () => resolve())
  })
}
