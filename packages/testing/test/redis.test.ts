import { afterAll, describe, expect, it } from 'vitest'
import { type RedisServer, startRedis } from '../src/index.js'

const servers: RedisServer[] = []
afterAll(() => Promise.all(servers.map((server) => server.stop())))

describe('startRedis', () => {
  it('starts one node; kill refuses connections and start serves again', async () => {
    const redis = await startRedis({ password: 's3cret' })
    servers.push(redis)
    const [node] = redis.nodes
    if (!node) throw new Error('no node')
    expect(redis.url).toBe(`redis://:s3cret@127.0.0.1:${node.port}`)
    expect(await node.cli('set', 'k', 'v')).toBe('OK')
    await redis.kill()
    await expect(node.cli('ping')).rejects.toThrow(/refused/i)
    await redis.start()
    expect(await node.cli('ping')).toBe('PONG')
  })

  it('starts a 3-master Redis Cluster that survives a restart', async () => {
    const cluster = await startRedis({ cluster: { masters: 3 } })
    servers.push(cluster)
    expect(cluster.startupNodes).toHaveLength(3)
    const first = cluster.nodes[0]
    if (!first) throw new Error('no node')
    const info = await first.cli('cluster', 'info')
    expect(info).toContain('cluster_state:ok')
    expect(info).toContain('cluster_known_nodes:3')
    // Bus ports are picked free too: the default, port + 10000, is in the ephemeral range.
    const busPorts = [...(await first.cli('cluster', 'nodes')).matchAll(/:(\d+)@(\d+)/g)]
    expect(busPorts).toHaveLength(3)
    for (const [, port, bus] of busPorts) expect(Number(bus)).not.toBe(Number(port) + 10_000)
    expect(await first.cli('-c', 'set', '{user:1}:name', 'ada')).toBe('OK')
    await cluster.kill()
    await cluster.start()
    expect(await first.cli('cluster', 'info')).toContain('cluster_state:ok')
  })
})
