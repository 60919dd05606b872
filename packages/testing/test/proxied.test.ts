import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  attachPostgres,
  attachRedis,
  type PostgresCluster,
  type RedisServer,
  startPostgres,
  startRedis,
} from '../src/index.js'

let cluster: PostgresCluster
let redis: RedisServer

beforeAll(async () => {
  ;[cluster, redis] = await Promise.all([
    startPostgres({ replicas: 1, proxied: true }),
    startRedis({ cluster: { masters: 3 }, proxied: true }),
  ])
})
afterAll(async () => {
  await Promise.all([cluster?.stop(), redis?.stop()])
})

async function serverPort(url: string): Promise<number | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 })
  await client.connect()
  try {
    return (await client.query<{ port: number }>('select inet_server_port() as port')).rows[0]?.port
  } finally {
    await client.end()
  }
}

describe('startPostgres({ proxied: true })', () => {
  it('puts a proxy in front of every server; client URLs go through it', async () => {
    const servers = [cluster.primary, ...cluster.replicas]
    for (const server of servers) {
      const network = server.network
      if (!network) throw new Error(`${server.name} has no network`)
      expect(new URL(server.url()).port).toBe(String(network.port))
      expect(network.port).not.toBe(server.port)
      // The fixture's own queries (start, waitForReplay) bypass the proxy.
      expect((await network.stats()).connections).toBe(0)
      expect(await serverPort(server.url())).toBe(server.port)
      expect(await network.stats()).toMatchObject({ connections: 1 })
      expect((await network.stats()).messagesToServer).toBeGreaterThan(2)
    }
    expect(cluster.replicaUrls()).toEqual(cluster.replicas.map((replica) => replica.url()))
  })

  it('replication bypasses the proxy: a cut primary network still streams to the replica', async () => {
    const network = cluster.primary.network
    if (!network) throw new Error('no network')
    await network.cut()
    try {
      await expect(serverPort(cluster.url())).rejects.toMatchObject({ code: 'ECONNRESET' })
      await cluster.primary.query('create table if not exists streamed (id int)')
      await cluster.primary.query('insert into streamed values (1)')
      await cluster.waitForReplay()
      const rows = await cluster.replicas[0]?.query<{ n: string }>(
        'select count(*) as n from streamed',
      )
      expect(rows?.[0]?.n).toBe('1')
    } finally {
      await network.restore()
    }
    expect(await serverPort(cluster.url())).toBe(cluster.primary.port)
  })

  it('a handle rebuilt from info drives the same proxies', async () => {
    const attached = attachPostgres(cluster.info)
    expect(attached.url()).toBe(cluster.url())
    await attached.primary.network?.blackhole()
    const client = new pg.Client({
      connectionString: cluster.url(),
      connectionTimeoutMillis: 1_000,
    })
    client.on('error', () => {})
    await expect(client.connect()).rejects.toThrow(/timeout/i)
    await attached.primary.network?.restore()
    expect(await serverPort(cluster.url())).toBe(cluster.primary.port)
  })
})

describe('startRedis({ cluster, proxied: true })', () => {
  it('nodes announce their proxies, so MOVED keeps clients behind them', async () => {
    const [first] = redis.nodes
    if (!first) throw new Error('no node')
    const announced = [...(await first.cli('cluster', 'nodes')).matchAll(/:(\d+)@(\d+)/g)]
    expect(announced.map(([, port]) => Number(port)).sort()).toEqual(
      redis.nodes.map((node) => node.network?.port).sort(),
    )
    expect(redis.startupNodes.map((node) => node.port)).toEqual(
      redis.nodes.map((node) => node.network?.port),
    )
    // A key another node owns: the first node answers MOVED with the owner's proxy port.
    let key = 'k0'
    for (let i = 1; !(await first.cli('get', key)).startsWith('MOVED'); i++) key = `k${i}`
    const movedTo = Number(/:(\d+)$/.exec(await first.cli('get', key))?.[1])
    const target = redis.nodes.find((node) => node.network?.port === movedTo)
    if (!target?.network) throw new Error(`MOVED to ${movedTo}, not a proxy`)
    const before = (await target.network.stats()).connections
    const proxied = attachRedis(redis.info).nodes[0]
    if (!proxied?.network) throw new Error('no network')
    const { execFile } = await import('node:child_process')
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        'redis-cli',
        ['-c', '-p', String(proxied.network?.port), 'set', key, 'moved'],
        (error, stdout) => (error ? reject(error) : resolve(stdout.trim())),
      ),
    )
    expect(out).toBe('OK')
    expect(await target.cli('get', key)).toBe('moved') // on the owner itself
    expect((await target.network.stats()).connections).toBeGreaterThan(before)
  })
})
