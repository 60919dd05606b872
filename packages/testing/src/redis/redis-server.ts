import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { startFaultProxy } from '../faults/fault-proxy.js'
import { onProcessExit } from '../process/cleanup.js'
import { freePort } from '../process/ports.js'
import { stopOnFailure } from '../process/stop-on-failure.js'
import { waitFor } from '../process/wait.js'
import { makeWorkDir } from '../process/work-dir.js'
import { RedisNode, type RedisNodeInfo } from './redis-node.js'

/** Options of {@link startRedis}. */
export interface StartRedisOptions {
  /** Start a Redis Cluster with this many masters (no replicas) instead of one node. */
  readonly cluster?: { readonly masters: number }
  /** Require this password (`requirepass`). */
  readonly password?: string
  /**
   * Put a fault proxy in front of every node (`node.network`): `url` and `startupNodes` go
   * through it, and a Cluster's nodes announce the proxies' ports so clients following MOVED
   * stay behind them; the cluster bus bypasses them.
   */
  readonly proxied?: boolean
}

/** Plain data describing a Redis server or cluster, e.g. handed from a vitest global setup. */
export interface RedisServerInfo {
  readonly cluster: boolean
  readonly password?: string | undefined
  readonly nodes: readonly RedisNodeInfo[]
}

/**
 * A Redis server, or a Redis Cluster, for tests.
 *
 * @example
 * ```ts
 * const redis = await startRedis()
 * const client = new Redis(redis.url)
 * await redis.kill() // the client now sees connection errors
 * await redis.start()
 * ```
 */
export class RedisServer {
  readonly nodes: readonly RedisNode[]
  readonly cluster: boolean
  readonly #info: RedisServerInfo
  readonly #release: (() => void) | undefined

  /** `release` removes the directories and exit hook; only the starting process passes it. */
  constructor(info: RedisServerInfo, release?: () => void) {
    this.#info = info
    this.nodes = info.nodes.map((node) => new RedisNode(node))
    this.cluster = info.cluster
    this.#release = release
  }

  /** Plain data to rebuild this server in another process with {@link attachRedis}. */
  get info(): RedisServerInfo {
    return { ...this.#info, nodes: this.nodes.map((node) => node.info) }
  }

  /** `redis://[:password@]127.0.0.1:<port>` of the first node (through its proxy if proxied). */
  get url(): string {
    const { host, port } = (this.nodes[0] as RedisNode).address
    const auth = this.#info.password ? `:${encodeURIComponent(this.#info.password)}@` : ''
    return `redis://${auth}${host}:${port}`
  }

  /** `{ host, port }` of each node (its proxy if proxied), as ioredis' `Cluster` takes them. */
  get startupNodes(): { host: string; port: number }[] {
    return this.nodes.map((node) => node.address)
  }

  /** Kills every node (SIGKILL). */
  async kill(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.kill()))
  }

  /** Starts every node again on the same ports (a cluster keeps its slot map). */
  async start(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.start()))
    if (this.cluster) await waitForClusterOk(this.nodes)
  }

  /**
   * Restarts every node with no data (see {@link RedisNode.restartEmpty}); a Cluster keeps
   * its slot map and is `cluster_state:ok` again when this resolves.
   */
  async restartEmpty(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.restartEmpty()))
    if (this.cluster) await waitForClusterOk(this.nodes)
  }

  /** `FLUSHALL` on every node. */
  async flushAll(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.flushAll()))
  }

  /** SIGSTOPs every node (see {@link RedisNode.freeze}). */
  async freeze(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.freeze()))
  }

  /** Resumes every frozen node. */
  async thaw(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.thaw()))
  }

  /**
   * Thaws and kills every node; the process that started the server also removes the data
   * directories.
   */
  async stop(): Promise<void> {
    await this.thaw()
    await this.kill()
    if (this.#release) await Promise.all(this.nodes.map((node) => node.network?.stop()))
    this.#release?.()
  }
}

/**
 * Starts one Redis server, or a Redis Cluster of `cluster.masters` masters, on free ports.
 *
 * @example
 * ```ts
 * const cluster = await startRedis({ cluster: { masters: 3 } })
 * const client = new Cluster(cluster.startupNodes)
 * ```
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const root = makeWorkDir('redis')
  const count = options.cluster?.masters ?? 1
  const clustered = options.cluster !== undefined
  const nodes: RedisNodeInfo[] = []
  for (let i = 0; i < count; i++) {
    nodes.push({
      port: await freePort(),
      dir: join(root, `node-${i + 1}`),
      password: options.password,
      busPort: clustered ? await freePort() : undefined,
      announcePort: options.proxied ? await freePort() : undefined,
    })
  }
  const removeRoot = () => rmSync(root, { recursive: true, force: true })
  const unregister = onProcessExit(() => {
    for (const node of server.nodes) node.killSync()
    removeRoot()
  })
  const server = new RedisServer({ cluster: clustered, password: options.password, nodes }, () => {
    unregister()
    removeRoot()
  })
  await stopOnFailure(
    () => server.stop(),
    async () => {
      await Promise.all(server.nodes.map((node) => node.start()))
      if (options.proxied) {
        for (const node of server.nodes) {
          const { host, port } = node
          const listenPort = node.info.announcePort
          node.useNetwork(await startFaultProxy({ host, port, protocol: 'raw', listenPort }))
        }
      }
      if (clustered) {
        const first = server.nodes[0] as RedisNode
        await first.cli(
          '--cluster',
          'create',
          ...server.nodes.map((n) => `${n.host}:${n.port}`),
          '--cluster-replicas',
          '0',
          '--cluster-yes',
        )
        await waitForClusterOk(server.nodes)
      }
    },
  )
  return server
}

/**
 * Rebuilds a Redis handle from {@link RedisServerInfo} (e.g. one a vitest global setup
 * provided). Every control works; `stop()` leaves the directories to the process that
 * started the server.
 *
 * @example
 * ```ts
 * const redis = attachRedis(inject('sluiceRedis'))
 * await redis.freeze()
 * ```
 */
export function attachRedis(info: RedisServerInfo): RedisServer {
  return new RedisServer(info)
}

async function waitForClusterOk(nodes: readonly RedisNode[]): Promise<void> {
  await Promise.all(
    nodes.map((node) =>
      waitFor(async () => (await node.cli('cluster', 'info')).includes('cluster_state:ok'), {
        what: `redis cluster node ${node.port} to be ok`,
      }),
    ),
  )
}
