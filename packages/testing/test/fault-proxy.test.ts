import { Socket } from 'node:net'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  attachFaultProxy,
  type FaultProxy,
  freePort,
  type PostgresCluster,
  type RedisServer,
  startFaultProxy,
  startPostgres,
  startRedis,
  waitFor,
} from '../src/index.js'
import { expectLatencyAddsAndRestores } from './round-trips.js'

let cluster: PostgresCluster
let redis: RedisServer
const proxies: FaultProxy[] = []

beforeAll(async () => {
  ;[cluster, redis] = await Promise.all([startPostgres({ replicas: 1 }), startRedis()])
})
afterAll(async () => {
  await Promise.all(proxies.map((proxy) => proxy.stop()))
  await Promise.all([cluster?.stop(), redis?.stop()])
})

async function proxyTo(port: number, protocol: 'postgres' | 'raw' = 'postgres') {
  const proxy = await startFaultProxy({ host: '127.0.0.1', port, protocol })
  proxies.push(proxy)
  return proxy
}

/** A client through `proxy`, with its own deadlines, tagged for pg_stat_activity. */
async function clientVia(proxy: FaultProxy, name: string, queryTimeout = 0): Promise<pg.Client> {
  const url = new URL(cluster.primary.url())
  url.port = String(proxy.port)
  const client = new pg.Client({
    connectionString: url.toString(),
    application_name: name,
    connectionTimeoutMillis: 5_000,
    ...(queryTimeout > 0 && { query_timeout: queryTimeout }),
  })
  client.on('error', () => {})
  await client.connect()
  return client
}

/** Sessions the primary itself reports for `name`. */
const sessions = async (name: string) =>
  Number(
    (
      await cluster.primary.query<{ n: string }>(
        'select count(*) as n from pg_stat_activity where application_name = $1',
        [name],
      )
    )[0]?.n,
  )

describe('startFaultProxy', () => {
  it('refuses a target nothing listens on, and a bad latency', async () => {
    const dead = await freePort()
    await expect(startFaultProxy({ host: '127.0.0.1', port: dead })).rejects.toMatchObject({
      name: 'TestServerError',
      code: 'UPSTREAM_UNREACHABLE',
    })
    for (const listenPort of [-5, 0, 70_000, 1.5])
      await expect(
        startFaultProxy({ host: '127.0.0.1', port: cluster.primary.port, listenPort }),
      ).rejects.toMatchObject({ name: 'TestServerError', code: 'INVALID_TARGET' })
    const proxy = await proxyTo(cluster.primary.port)
    // 2^31 ms and more: a Node.js timer would fire at once, silently dropping the latency.
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, 1e12])
      await expect(proxy.latency(bad)).rejects.toMatchObject({ code: 'INVALID_LATENCY' })
    await expect(proxy.retarget('127.0.0.1', dead)).rejects.toMatchObject({
      code: 'UPSTREAM_UNREACHABLE',
    })
    await expect(proxy.retarget('127.0.0.1', 70_000)).rejects.toMatchObject({
      code: 'INVALID_TARGET',
    })
    expect((await proxy.stats()).target.port).toBe(cluster.primary.port)
  })

  it('counts connections, bytes and PostgreSQL messages each way', async () => {
    const proxy = await proxyTo(cluster.primary.port)
    const client = await clientVia(proxy, 'counted')
    const before = await proxy.stats()
    expect(before).toMatchObject({ connections: 1, openConnections: 1 })
    await client.query('select 1')
    const after = await proxy.stats()
    // Query → RowDescription, DataRow, CommandComplete, ReadyForQuery.
    expect(after.messagesToServer - before.messagesToServer).toBe(1)
    expect(after.messagesToClient - before.messagesToClient).toBe(4)
    expect(after.roundTrips - before.roundTrips).toBe(1)
    expect(after.bytesToServer - before.bytesToServer).toBe(1 + 4 + 'select 1'.length + 1)
    expect(after.bytesToClient).toBeGreaterThan(before.bytesToClient)
    expect(await sessions('counted')).toBe(1)
    await client.end()
    await waitFor(async () => (await proxy.stats()).openConnections === 0, {
      what: 'the link to close',
    })
  })

  it('latency(50) adds about 100 ms to a round trip; restore() takes it away', async () => {
    const proxy = await proxyTo(cluster.primary.port)
    const client = await clientVia(proxy, 'slow')
    try {
      await expectLatencyAddsAndRestores(client, proxy)
    } finally {
      await client.end()
    }
  })

  it('blackhole() keeps the connection open and forwards nothing: the client deadline fires', async () => {
    const proxy = await proxyTo(cluster.primary.port)
    const client = await clientVia(proxy, 'holed', 1_000)
    await proxy.blackhole()
    await expect(client.query("select 'never seen'")).rejects.toThrow(/timeout/i)
    expect((await proxy.stats()).openConnections).toBe(1)
    // The server never received the statement: the session is idle with its last query.
    const [row] = await cluster.primary.query<{ query: string }>(
      "select query from pg_stat_activity where application_name = 'holed'",
    )
    expect(row?.query).not.toContain('never seen')
    await proxy.restore()
    const fresh = await clientVia(proxy, 'after-hole')
    expect((await fresh.query('select 1 as one')).rows[0]?.one).toBe(1)
    await fresh.end()
    await client.end().catch(() => undefined)
  })

  it('cut() resets open connections and new ones until restore()', async () => {
    const proxy = await proxyTo(cluster.primary.port)
    const client = await clientVia(proxy, 'cut')
    const failed = new Promise<NodeJS.ErrnoException>((resolve) => client.on('error', resolve))
    await proxy.cut()
    expect((await failed).code).toBe('ECONNRESET')
    await waitFor(async () => (await sessions('cut')) === 0, { what: 'the backend to go' })
    await expect(clientVia(proxy, 'cut-new')).rejects.toMatchObject({ code: 'ECONNRESET' })
    await proxy.restore()
    const fresh = await clientVia(proxy, 'after-cut')
    expect(await sessions('after-cut')).toBe(1)
    await fresh.end()
  })

  it('retarget() sends new connections to another server; open ones stay', async () => {
    const replica = cluster.replicas[0]
    if (!replica) throw new Error('no replica')
    const proxy = await proxyTo(cluster.primary.port)
    const port = async (client: pg.Client) =>
      (await client.query<{ port: number }>('select inet_server_port() as port')).rows[0]?.port
    const old = await clientVia(proxy, 'old')
    await proxy.retarget(replica.host, replica.port)
    const moved = await clientVia(proxy, 'moved')
    expect(await port(moved)).toBe(replica.port)
    expect(await port(old)).toBe(cluster.primary.port)
    await Promise.all([old.end(), moved.end()])
  })

  it('retarget(..., { cut: true }) resets open connections too, as a moving address does', async () => {
    const replica = cluster.replicas[0]
    if (!replica) throw new Error('no replica')
    const proxy = await proxyTo(cluster.primary.port)
    const old = await clientVia(proxy, 'moved-away')
    expect(await sessions('moved-away')).toBe(1)
    await attachFaultProxy(proxy.info).retarget(replica.host, replica.port, { cut: true })
    await expect(old.query('select 1')).rejects.toThrow()
    await waitFor(async () => (await sessions('moved-away')) === 0, { what: 'the backend to go' })
    const moved = await clientVia(proxy, 'moved-to')
    const [row] = (await moved.query<{ port: number }>('select inet_server_port() as port')).rows
    expect(row?.port).toBe(replica.port)
    await moved.end()
  })

  it('is driven the same way through attachFaultProxy (the control channel)', async () => {
    const proxy = await proxyTo(cluster.primary.port)
    const attached = attachFaultProxy(proxy.info)
    expect([attached.host, attached.port]).toEqual([proxy.host, proxy.port])
    const client = await clientVia(proxy, 'attached')
    await expectLatencyAddsAndRestores(client, attached)
    await expect(attached.latency(-5)).rejects.toMatchObject({ code: 'INVALID_LATENCY' })
    expect(await attached.stats()).toEqual(await proxy.stats())
    await client.end()
    await attached.stop()
    await expect(attached.stats()).rejects.toMatchObject({ code: 'CONTROL_TARGET_GONE' })
  })
})

describe('attachFaultProxy', () => {
  it('fails with CONTROL_UNREACHABLE when the owning process is gone', async () => {
    const dead = await freePort()
    const control = { url: `http://127.0.0.1:${dead}/`, secret: 'none' }
    const ghost = attachFaultProxy({ id: 'ghost', host: '127.0.0.1', port: dead, control })
    await expect(ghost.cut()).rejects.toMatchObject({
      name: 'TestServerError',
      code: 'CONTROL_UNREACHABLE',
    })
  })
})

describe('a raw (Redis) proxy', () => {
  it('forwards, and counts request/response round trips', async () => {
    const node = redis.nodes[0]
    if (!node) throw new Error('no node')
    const proxy = await proxyTo(node.port, 'raw')
    const socket = new Socket()
    await new Promise<void>((resolve) => socket.connect(proxy.port, proxy.host, resolve))
    const reply = (command: string) =>
      new Promise<string>((resolve) => {
        socket.once('data', (data) => resolve(data.toString().trim()))
        socket.write(command)
      })
    expect(await reply('SET k v\r\n')).toBe('+OK')
    expect(await reply('GET k\r\n')).toBe('$1\r\nv')
    expect(await node.cli('get', 'k')).toBe('v') // the server itself has it
    const stats = await proxy.stats()
    expect(stats).toMatchObject({ roundTrips: 2, messagesToServer: 0 })
    socket.destroy()
  })

  it('a client that half-closes after its request still gets the answer', async () => {
    const node = redis.nodes[0]
    if (!node) throw new Error('no node')
    const proxy = await proxyTo(node.port, 'raw')
    const socket = new Socket()
    let received = ''
    socket.on('data', (data) => {
      received += data
    })
    const closed = new Promise((resolve) => socket.once('close', resolve))
    socket.connect(proxy.port, proxy.host, () => socket.end('PING\r\n'))
    await closed
    expect(received.trim()).toBe('+PONG') // what redis-server itself answers such a client
    await waitFor(async () => (await proxy.stats()).openConnections === 0, {
      what: 'the half-closed link to close',
    })
  })
})
