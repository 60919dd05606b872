import { existsSync, readFileSync } from 'node:fs'
import { Socket } from 'node:net'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { processTree } from '../src/faults/freeze.js'
import {
  type PostgresCluster,
  type PostgresServer,
  type RedisServer,
  startPostgres,
  startRedis,
  TestServerError,
  waitFor,
} from '../src/index.js'

let cluster: PostgresCluster
let redis: RedisServer

beforeAll(async () => {
  ;[cluster, redis] = await Promise.all([startPostgres({ replicas: 1 }), startRedis()])
})
afterAll(async () => {
  await Promise.all([cluster?.stop(), redis?.stop()])
})

/** What the kernel says about each process of the tree: its state letter (gone ones skipped). */
const states = (root: number) =>
  processTree(root).flatMap((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      return [stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)]
    } catch {
      return [] // exited since the listing
    }
  })

/** A connection attempt with the client's own deadline: rejects on a frozen server. */
async function connectWithin(url: string, ms: number): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: ms })
  client.on('error', () => {})
  await client.connect()
  return client
}

const serverPort = async (client: pg.Client) =>
  (await client.query<{ port: number }>('select inet_server_port() as port')).rows[0]?.port

describe.each(['primary', 'replica-1'])('freeze() on the %s', (name) => {
  const server = (): PostgresServer =>
    name === 'primary' ? cluster.primary : (cluster.replicas[0] as PostgresServer)

  it('stops the postmaster and every child; nothing answers until thaw()', async () => {
    const open = await connectWithin(server().url(), 10_000)
    try {
      await server().freeze()
      const pid = server().pid as number
      expect(processTree(pid).length).toBeGreaterThan(3) // checkpointer, walwriter, our backend...
      expect(states(pid).every((state) => state === 'T')).toBe(true)
      expect(server().frozen).toBe(true)

      let answered = false
      const inFlight = serverPort(open).then((port) => {
        answered = true
        return port
      })
      inFlight.catch(() => {}) // awaited below; a failure before then must not go unhandled
      // The kernel still accepts the TCP connection; the server never answers the startup.
      await expect(connectWithin(server().url(), 1_000)).rejects.toThrow(/timeout/i)
      expect(answered).toBe(false)

      await server().thaw()
      expect(states(pid).some((state) => state === 'T')).toBe(false)
      expect(await inFlight).toBe(server().port)
      const fresh = await connectWithin(server().url(), 10_000)
      expect(await serverPort(fresh)).toBe(server().port)
      await fresh.end()
    } finally {
      await server().thaw()
      await open.end()
    }
  })
})

describe('freeze() on PostgreSQL', () => {
  it('on a stopped server fails with SERVER_NOT_RUNNING', async () => {
    const other = await startPostgres()
    try {
      await other.primary.kill()
      const error = await other.primary.freeze().catch((e: unknown) => e)
      expect(error).toBeInstanceOf(TestServerError)
      expect(error).toMatchObject({ code: 'SERVER_NOT_RUNNING' })
    } finally {
      await other.stop()
    }
  })

  it('stop() of the cluster thaws first', async () => {
    const other = await startPostgres()
    const pid = other.primary.pid as number
    await other.primary.freeze()
    await other.stop()
    expect(other.primary.running).toBe(false)
    await waitFor(() => !existsSync(`/proc/${pid}`), { what: 'the postmaster to exit' })
  })
})

/** Sends PING on an open socket; resolves with the reply, or 'timeout' on the socket deadline. */
function ping(socket: Socket, ms: number): Promise<string> {
  return new Promise((resolve) => {
    socket.setTimeout(ms)
    const done = (value: string) => {
      socket.setTimeout(0)
      socket.off('data', onData)
      socket.off('timeout', onTimeout)
      resolve(value)
    }
    const onData = (data: Buffer) => done(data.toString().trim())
    const onTimeout = () => done('timeout')
    socket.on('data', onData)
    socket.on('timeout', onTimeout)
    socket.write('PING\r\n')
  })
}

describe('freeze() on Redis', () => {
  it('stops the node with its socket open; the reply comes after thaw()', async () => {
    const node = redis.nodes[0]
    if (!node) throw new Error('no node')
    const socket = new Socket()
    await new Promise<void>((resolve) => socket.connect(node.port, node.host, resolve))
    try {
      expect(await ping(socket, 10_000)).toBe('+PONG')
      await node.freeze()
      expect(states(node.pid as number)).toEqual(['T'])
      const reply = new Promise<string>((resolve) => socket.once('data', (d) => resolve(`${d}`)))
      expect(await ping(socket, 1_000)).toBe('timeout')
      expect(socket.destroyed).toBe(false)
      await node.thaw()
      expect((await reply).trim()).toBe('+PONG')
      expect(await node.cli('dbsize')).toBe('0')
    } finally {
      await node.thaw()
      socket.destroy()
    }
  })

  it('on a killed node fails with SERVER_NOT_RUNNING; stop() of a frozen server works', async () => {
    const other = await startRedis()
    const [node] = other.nodes
    if (!node) throw new Error('no node')
    await node.freeze()
    await other.stop()
    expect(node.running).toBe(false)
    await expect(node.freeze()).rejects.toMatchObject({
      name: 'TestServerError',
      code: 'SERVER_NOT_RUNNING',
    })
  })
})
