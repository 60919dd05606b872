import { readFileSync } from 'node:fs'
import { Socket } from 'node:net'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { sharedPostgres, sharedRedis } from '../src/vitest.js'
import { expectLatencyAddsAndRestores } from './round-trips.js'

// The servers and their proxies live in the vitest global-setup process; this file only has
// the provided info, and drives them from the test worker.
const cluster = sharedPostgres()
const redis = sharedRedis()

afterAll(async () => {
  await Promise.all([cluster.primary.thaw(), cluster.primary.network?.restore()])
})

const parentOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
}

async function connect(url: string, timeoutMs: number): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs })
  client.on('error', () => {})
  await client.connect()
  return client
}

describe('controls from a test file, on servers the global setup started', () => {
  it('the servers are not this process’s children', () => {
    expect(parentOf(cluster.primary.pid as number)).not.toBe(process.pid)
    expect(cluster.primary.network).toBeDefined()
    expect(redis.nodes[0]?.network).toBeDefined()
  })

  it('freeze() and thaw() the shared primary', async () => {
    await cluster.primary.freeze()
    try {
      await expect(connect(cluster.url(), 1_000)).rejects.toThrow(/timeout/i)
    } finally {
      await cluster.primary.thaw()
    }
    const client = await connect(cluster.url(), 10_000)
    expect((await client.query('select inet_server_port() as port')).rows[0]?.port).toBe(
      cluster.primary.port,
    )
    await client.end()
  })

  it('drives the shared primary’s proxy over the control channel', async () => {
    const network = cluster.primary.network
    if (!network) throw new Error('no network')
    const client = await connect(cluster.url(), 10_000)
    try {
      const before = await network.stats()
      await expectLatencyAddsAndRestores(client, network)
      const after = await network.stats()
      expect(after.messagesToServer - before.messagesToServer).toBe(21) // 21 simple queries
    } finally {
      await client.end()
    }
  })

  it('restartEmpty() the shared Redis; clients reach it through its proxy again', async () => {
    const [node] = redis.nodes
    if (!node?.network) throw new Error('no network')
    await node.cli('set', 'shared', 'value')
    const pid = node.pid
    await redis.restartEmpty()
    expect(node.pid).not.toBe(pid)
    expect(await node.cli('dbsize')).toBe('0')
    const socket = new Socket()
    await new Promise<void>((resolve) =>
      socket.connect(node.network?.port ?? 0, node.host, resolve),
    )
    const reply = await new Promise<string>((resolve) => {
      socket.once('data', (data) => resolve(data.toString().trim()))
      socket.write('DBSIZE\r\n')
    })
    socket.destroy()
    expect(reply).toBe(':0')
  })
})
