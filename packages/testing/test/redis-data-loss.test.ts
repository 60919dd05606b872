import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { attachRedis, type RedisNode, type RedisServer, startRedis } from '../src/index.js'

let single: RedisServer
let cluster: RedisServer

beforeAll(async () => {
  ;[single, cluster] = await Promise.all([
    startRedis({ password: 's3cret' }),
    startRedis({ cluster: { masters: 3 } }),
  ])
})
afterAll(async () => {
  await Promise.all([single?.stop(), cluster?.stop()])
})

const first = (server: RedisServer): RedisNode => {
  const [node] = server.nodes
  if (!node) throw new Error('no node')
  return node
}

async function fill(node: RedisNode, keys: number): Promise<void> {
  for (let i = 0; i < keys; i++) await node.cli('-c', 'set', `key:${i}`, 'value')
}

const dbsizes = (server: RedisServer) =>
  Promise.all(server.nodes.map(async (node) => Number(await node.cli('dbsize'))))

describe('Redis data loss', () => {
  it('restartEmpty() restarts the process with no data: DBSIZE is 0', async () => {
    const node = first(single)
    await fill(node, 20)
    expect(await dbsizes(single)).toEqual([20])
    const pid = node.pid
    await single.restartEmpty()
    expect(node.pid).not.toBe(pid)
    expect(await dbsizes(single)).toEqual([0])
    expect(await node.cli('ping')).toBe('PONG') // the password still applies
  })

  it('flushAll() empties the node and keeps the process', async () => {
    const node = first(single)
    await fill(node, 5)
    const pid = node.pid
    await single.flushAll()
    expect(await dbsizes(single)).toEqual([0])
    expect(node.pid).toBe(pid)
  })

  it('restartEmpty() on a Cluster: every node empty, same slot map, cluster_state ok', async () => {
    const node = first(cluster)
    await fill(node, 30)
    const sizes = await dbsizes(cluster)
    expect(sizes.reduce((a, b) => a + b)).toBe(30)
    // Each node's id and slot ranges (fields 1 and 9+ of CLUSTER NODES).
    const slotMap = async () =>
      (await node.cli('cluster', 'nodes'))
        .split('\n')
        .map((line) => line.split(' '))
        .map(([id, , , , , , , , ...slots]) => `${id} ${slots.join(' ')}`)
        .sort()
    const before = await slotMap()
    await cluster.restartEmpty()
    expect(await dbsizes(cluster)).toEqual([0, 0, 0])
    expect(await node.cli('cluster', 'info')).toContain('cluster_state:ok')
    expect(await slotMap()).toEqual(before)
  })

  it('a handle rebuilt from info restarts a node empty and freezes it', async () => {
    const node = attachRedis(single.info).nodes[0] as RedisNode
    await fill(node, 3)
    await node.restartEmpty()
    expect(await node.cli('dbsize')).toBe('0')
    await node.freeze()
    expect(first(single).frozen).toBe(true)
    await node.thaw()
    expect(await node.cli('ping')).toBe('PONG')
  })

  it('flushAll() on a frozen node or a stopped one is a TestServerError, not a hang', async () => {
    const node = first(single)
    await node.freeze()
    try {
      await expect(node.flushAll()).rejects.toMatchObject({
        name: 'TestServerError',
        code: 'SERVER_FROZEN',
      })
    } finally {
      await node.thaw()
    }
    const stopped = await startRedis()
    await stopped.stop()
    await expect(stopped.flushAll()).rejects.toMatchObject({
      name: 'TestServerError',
      code: 'SERVER_NOT_RUNNING',
    })
  })
})
