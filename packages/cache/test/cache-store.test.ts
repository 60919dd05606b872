import { type RedisServer, startRedis } from '@sluice/testing'
import { cacheStoreContract } from '@sluice/testing/cache-store'
import { sharedRedisUrl } from '@sluice/testing/vitest'
import { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll } from 'vitest'
import { MemoryStore, RedisStore } from '../src/index.js'

let redis: Redis
let cluster: RedisServer
let clusterClient: Cluster

beforeAll(async () => {
  redis = new Redis(sharedRedisUrl())
  cluster = await startRedis({ cluster: { masters: 3 } })
  clusterClient = new Cluster(cluster.startupNodes)
})

afterAll(async () => {
  redis?.disconnect()
  clusterClient?.disconnect()
  await cluster?.stop()
})

const memory = new MemoryStore()
cacheStoreContract('memory', async () => memory)
cacheStoreContract('redis', async () => new RedisStore(redis, 'contract'))
cacheStoreContract(
  'redis cluster (3 masters)',
  async () => new RedisStore(clusterClient, 'contract'),
)
