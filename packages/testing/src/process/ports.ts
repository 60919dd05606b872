import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TestServerError } from '../errors.js'
import { onProcessExit } from './cleanup.js'

// Below Linux's ephemeral range (32768-60999 by default): the OS never hands these out for
// outgoing connections, so a port checked free here cannot be taken by some client's
// connect() before the server binds it.
const FIRST_PORT = 20_000
const PORT_COUNT = 12_000
const RESERVATIONS = join(tmpdir(), 'sluice-test-ports')
const reserved = new Set<number>()

/**
 * A free TCP port on 127.0.0.1 for a server to listen on. Ports are picked at random from
 * 20000-31999 (outside the ephemeral range, so client connections never race for them),
 * checked bindable, and reserved for the life of this process with a file that other
 * processes (parallel test workers) respect, so two workers never start servers on the same
 * port.
 *
 * @example
 * ```ts
 * const port = await freePort()
 * spawn('redis-server', ['--port', String(port)])
 * ```
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = FIRST_PORT + Math.floor(Math.random() * PORT_COUNT)
    if (reserved.has(port) || !reserve(port)) continue
    if (await canListen(port)) return port
  }
  throw new TestServerError('SERVER_START_FAILED', 'no free port found in 20000-31999')
}

/** Claims `port` across processes; a claim whose process is gone is taken over. */
function reserve(port: number): boolean {
  if (reserved.size === 0) mkdirSync(RESERVATIONS, { recursive: true })
  const file = join(RESERVATIONS, String(port))
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' })
      reserved.add(port)
      if (reserved.size === 1) onProcessExit(releaseAll)
      return true
    } catch {
      if (ownerAlive(file)) return false
      rmSync(file, { force: true })
    }
  }
  return false
}

function ownerAlive(file: string): boolean {
  try {
    process.kill(Number(readFileSync(file, 'utf8')), 0)
    return true
  } catch (error) {
    // EPERM: alive, owned by another user. ENOENT (file gone) or ESRCH: free.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function releaseAll(): void {
  for (const port of reserved) rmSync(join(RESERVATIONS, String(port)), { force: true })
  reserved.clear()
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
