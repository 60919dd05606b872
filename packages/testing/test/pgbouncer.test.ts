import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type PgBouncer,
  type PostgresCluster,
  startPgBouncer,
  startPostgres,
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
