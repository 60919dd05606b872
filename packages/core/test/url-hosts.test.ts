import { mkdtempSync, rmSync } from 'node:fs'
import { connect, createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../src/index.js'
import { freshDatabase, testDatabase } from './helpers.js'

let url: URL
let env: Readonly<Record<string, string>>
let serverPort: number | undefined
const listeners: Server[] = []
const socketDir = mkdtempSync(join(tmpdir(), 'sluice-socket-'))
beforeAll(async () => {
  ;({ env } = await freshDatabase())
  url = new URL(env.DATABASE_URL as string)
  // The server's own port (behind PgBouncer in the production profile), as it reports it.
  serverPort = await serverPortThrough(url.toString())
})
afterAll(async () => {
  await Promise.all(listeners.map((listener) => new Promise((resolve) => listener.close(resolve))))
  rmSync(socketDir, { recursive: true, force: true })
})

/**
 * Forwards connections made to `listen` (an IPv6 address and port, or a Unix socket path) to
 * the test URL's host and port: the test servers listen on 127.0.0.1 only.
 */
async function forward(listen: { host: string; port: number } | { path: string }): Promise<void> {
  const listener = createServer((client) => {
    const upstream = connect({ host: url.hostname, port: Number(url.port) })
    client.pipe(upstream).pipe(client)
    upstream.on('error', () => client.destroy())
    client.on('error', () => upstream.destroy())
  })
  listeners.push(listener)
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject)
    listener.listen(listen, resolve)
  })
}

/** The port the server reports for a query made through `databaseUrl`. */
async function serverPortThrough(databaseUrl: string): Promise<number | undefined> {
  const database = testDatabase(parseConfig({ ...env, DATABASE_URL: databaseUrl }))
  try {
    const { rows } = await sql<{ port: number }>`select inet_server_port() as port`.execute(
      database.db,
    )
    return rows[0]?.port
  } finally {
    await database.close()
  }
}

describe('hosts of a URL', () => {
  it('an IPv6 address in brackets is connected to', async () => {
    await forward({ host: '::1', port: Number(url.port) })
    const ipv6 = new URL(url)
    ipv6.hostname = '[::1]'
    expect(await serverPortThrough(ipv6.toString())).toBe(serverPort)
  })

  it('sslmode=prefer on a Unix socket directory connects without TLS, as libpq', async () => {
    await forward({ path: join(socketDir, `.s.PGSQL.${url.port}`) })
    const socket = new URL(url)
    socket.searchParams.set('host', socketDir)
    socket.searchParams.set('sslmode', 'prefer')
    expect(await serverPortThrough(socket.toString())).toBe(serverPort)
  })
})
