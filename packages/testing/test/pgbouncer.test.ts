import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type PgBouncer,
  type PostgresCluster,
  startPgBouncer,
  startPostgres,
  waitFor,
} from '../src/index.js'

let cluster: PostgresCluster
let bouncer: PgBouncer

beforeAll(async () => {
  cluster = await startPostgres()
  bouncer = await startPgBouncer({
    upstream: cluster.primary,
    poolMode: 'transaction',
    poolSize: 1,
  })
})
afterAll(async () => {
  await bouncer?.stop()
  await cluster?.stop()
})

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

describe('startPgBouncer', () => {
  it('forwards to the upstream server, multiplexing clients over its pool', async () => {
    const url = bouncer.url()
    expect(new URL(url).port).toBe(String(bouncer.port))
    const [a, b] = [
      new pg.Client({ connectionString: url }),
      new pg.Client({ connectionString: url }),
    ]
    await Promise.all([a.connect(), b.connect()])
    const pid = 'select pg_backend_pid() as pid, inet_server_port() as port'
    const [ra, rb] = await Promise.all([a.query(pid), b.query(pid)])
    await Promise.all([a.end(), b.end()])
    expect(ra.rows[0].port).toBe(cluster.primary.port)
    // pool size 1 in transaction mode: both clients were served by the same server backend
    expect(ra.rows[0].pid).toBe(rb.rows[0].pid)
  })

  it('rejects a wrong password', async () => {
    const url = new URL(bouncer.url())
    url.password = 'wrong'
    await expect(withClient(url.toString(), (c) => c.query('select 1'))).rejects.toThrow(
      /authentication failed/,
    ) // PgBouncer answers 08P01
  })
})

describe('PgBouncer freeze() / thaw()', () => {
  it('a frozen PgBouncer answers nothing until thawed, then answers', async () => {
    await bouncer.freeze()
    try {
      expect(bouncer.frozen).toBe(true)
      // Its socket still accepts (the kernel does); only the client's own deadline ends the wait.
      const frozen = new pg.Client({
        connectionString: bouncer.url(),
        connectionTimeoutMillis: 500,
      })
      frozen.on('error', () => {})
      await expect(frozen.connect()).rejects.toThrow(/timeout/i)
      await frozen.end().catch(() => undefined)
    } finally {
      await bouncer.thaw()
    }
    expect(bouncer.frozen).toBe(false)
    const rows = await withClient(bouncer.url(), (c) =>
      c.query('select inet_server_port() as port'),
    )
    expect(rows.rows[0].port).toBe(cluster.primary.port)
  })

  it('stop() of a frozen PgBouncer thaws and stops it; freeze() when stopped is SERVER_NOT_RUNNING', async () => {
    const other = await startPgBouncer({ upstream: cluster.primary })
    await other.freeze()
    await other.stop()
    expect(other.frozen).toBe(false)
    await expect(withClient(other.url(), (c) => c.query('select 1'))).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    })
    await expect(other.freeze()).rejects.toMatchObject({
      name: 'TestServerError',
      code: 'SERVER_NOT_RUNNING',
    })
  })
})

describe('startPostgres({ proxied: true, pgbouncer })', () => {
  it("each PgBouncer connects through its server's fault proxy", async () => {
    const proxied = await startPostgres({ replicas: 1, proxied: true, pgbouncer: 'transaction' })
    try {
      const { url, replicaUrls } = await proxied.createDatabase('through_proxies')
      const servers = [proxied.primary, ...proxied.replicas]
      for (const [i, clientUrl] of [url, ...replicaUrls].entries()) {
        const server = servers[i]
        const network = server?.network
        if (!server || !network) throw new Error('a server without its proxy')
        expect(new URL(clientUrl).port).toBe(String(proxied.pgbouncers[i]?.port))
        const { rows } = await withClient(clientUrl, (c) =>
          c.query('select inet_server_port() as port'),
        )
        expect(rows[0].port).toBe(server.port)
        // PgBouncer's server connections are the proxy's: the query crossed it.
        expect((await network.stats()).connections).toBeGreaterThan(0)
        expect((await network.stats()).messagesToServer).toBeGreaterThan(2)
      }
      // Cut the primary's link: PgBouncer can no longer reach it, until it is restored.
      const network = proxied.primary.network
      await network?.cut()
      const cut = new pg.Client({ connectionString: url, query_timeout: 15_000 })
      cut.on('error', () => {})
      const failed = await cut
        .connect()
        .then(() => cut.query('select 1'))
        .then(
          () => undefined,
          (error: Error) => error,
        )
      await cut.end().catch(() => undefined)
      expect(failed).toBeInstanceOf(Error)
      await network?.restore()
      await waitFor(() => withClient(url, (c) => c.query('select 1')).then(() => true), {
        what: 'PgBouncer to reach the primary again',
      })
    } finally {
      await proxied.stop()
    }
  })
})

describe('startPgBouncer({ supervised: true })', () => {
  it('restarts a PgBouncer that exited on its own, on the same port, and records it; not one the fixture killed', async () => {
    const supervised = await startPgBouncer({ upstream: cluster.primary, supervised: true })
    try {
      const first = supervised.pid as number
      // As PgBouncer 1.18 ends on a FATAL: the process exits on its own.
      process.kill(first, 'SIGABRT')
      await waitFor(() => supervised.restarts.length === 1 && supervised.running, {
        what: 'the supervisor to restart PgBouncer',
      })
      expect(supervised.pid).not.toBe(first)
      expect(supervised.restarts[0]).toMatchObject({ exit: 'signal SIGABRT' })
      // Same port, same config: clients' URLs work again.
      const rows = await waitFor(() =>
        withClient(supervised.url(), (c) => c.query('select inet_server_port() as port')),
      )
      expect(rows.rows[0].port).toBe(cluster.primary.port)
      // kill() is the test's own fault: it stays down until start().
      await supervised.kill()
      await expect(withClient(supervised.url(), (c) => c.query('select 1'))).rejects.toMatchObject({
        code: 'ECONNREFUSED',
      })
      expect(supervised.running).toBe(false)
      expect(supervised.restarts).toHaveLength(1)
    } finally {
      await supervised.stop()
    }
  })
})
