import { createServer } from 'node:net'
import { TestServerError } from '../errors.js'

// Below Linux's ephemeral range (32768-60999 by default): the OS never hands these out for
// outgoing connections, so a port checked free here cannot be taken by some client's
// connect() before the server binds it.
const FIRST_PORT = 20_000
const PORT_COUNT = 12_000
const handedOut = new Set<number>()

/**
 * A free TCP port on 127.0.0.1 for a server to listen on. Ports are picked at random from
 * 20000-31999 (outside the ephemeral range, so parallel test workers opening client
 * connections do not race for them), checked bindable, and never handed out twice by one
 * process.
 *
 * @example
 * ```ts
 * const port = await freePort()
 * spawn('redis-server', ['--port', String(port)])
 * ```
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = FIRST_PORT + Math.floor(Math.random() * PORT_COUNT)
    if (handedOut.has(port) || !(await canListen(port))) continue
    handedOut.add(port)
    return port
  }
  throw new TestServerError('SERVER_START_FAILED', 'no free port found in 20000-31999')
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.unref()
    server.once('error', () => resolve(false))
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      server.close(() => resolve(true))
    })
  })
}
