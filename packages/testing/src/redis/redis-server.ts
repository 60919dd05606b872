import { execFile } from 'node:child_process'
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ChildServer } from '../process/child-server.js'
import { onProcessExit } from '../process/cleanup.js'
import { freePort } from '../process/ports.js'
import { waitFor } from '../process/wait.js'
import { makeWorkDir } from '../process/work-dir.js'

const execFileAsync = promisify(execFile)

/** Options of {@link startRedis}. */
export interface StartRedisOptions {
  /** Start a Redis Cluster with this many masters (no replicas) instead of one node. */
  readonly cluster?: { readonly masters: number }
  /** Require this password (`requirepass`). */
  readonly password?: string
}

/** One redis-server process. */
export class RedisNode {
  readonly host = '127.0.0.1'
  readonly port: number
  readonly #server: ChildServer
  readonly #password: string | undefined

  constructor(
    port: number,
    dir: string,
    password: string | undefined,
    clusterBusPort: number | undefined,
  ) {
    this.port = port
    this.#password = password
    mkdirSync(dir, { recursive: true })
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
    args.push('--dir', dir, '--daemonize', 'no', '--protected-mode', 'no')
    if (password) args.push('--requirepass', password, '--masterauth', password)
    if (clusterBusPort !== undefined) {
      // An explicit bus port: the default (port + 10000) lands in the ephemeral range.
      args.push('--cluster-enabled', 'yes', '--cluster-node-timeout', '2000')
      args.push('--cluster-port', String(clusterBusPort))
    }
    this.#server = new ChildServer('redis-server', args, join(dir, 'redis.log'), false)
  }

  get running(): boolean {
    return this.#server.running
  }

  /** Runs a redis-cli command against this node and returns its output. */
  async cli(...args: string[]): Promise<string> {
    const auth = this.#password ? ['-a', this.#password, '--no-auth-warning'] : []
    const { stdout } = await execFileAsync('redis-cli', [
      '-h',
      this.host,
      '-p',
      String(this.port),
      ...auth,
      ...args,
    ])
    return stdout.trim()
  }

  async start(): Promise<void> {
    await this.#server.start(() =>
      waitFor(async () => (await this.cli('ping')) === 'PONG', {
        what: `redis on ${this.port}`,
      }).then(() => undefined),
    )
  }

  /** SIGKILL: connections drop at once, nothing is saved. */
  kill(): Promise<void> {
    return this.#server.kill()
  }

  killSync(): void {
    this.#server.killSync()
  }
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
  readonly #password: string | undefined
  readonly #release: () => void

  constructor(
    nodes: readonly RedisNode[],
    cluster: boolean,
    password: string | undefined,
    release: () => void,
  ) {
    this.nodes = nodes
    this.cluster = cluster
    this.#password = password
    this.#release = release
  }

  /** `redis://[:password@]127.0.0.1:<port>` of the first node. */
  get url(): string {
    const node = this.nodes[0] as RedisNode
    const auth = this.#password ? `:${encodeURIComponent(this.#password)}@` : ''
    return `redis://${auth}${node.host}:${node.port}`
  }

  /** `{ host, port }` of each node, as ioredis' `Cluster` takes them. */
  get startupNodes(): { host: string; port: number }[] {
    return this.nodes.map(({ host, port }) => ({ host, port }))
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

  /** Kills every node and removes the data directories. */
  async stop(): Promise<void> {
    await this.kill()
    this.#release()
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
  const nodes: RedisNode[] = []
  for (let i = 0; i < count; i++) {
    const port = await freePort()
    const busPort = clustered ? await freePort() : undefined
    nodes.push(new RedisNode(port, join(root, `node-${i + 1}`), options.password, busPort))
  }
  const removeRoot = () => rmSync(root, { recursive: true, force: true })
  const unregister = onProcessExit(() => {
    for (const node of nodes) node.killSync()
    removeRoot()
  })
  const server = new RedisServer(nodes, clustered, options.password, () => {
    unregister()
    removeRoot()
  })
  try {
    await Promise.all(nodes.map((node) => node.start()))
    if (clustered) {
      const first = nodes[0] as RedisNode
      await first.cli(
        '--cluster',
        'create',
        ...nodes.map((n) => `${n.host}:${n.port}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      )
      await waitForClusterOk(nodes)
    }
  } catch (error) {
    await server.stop()
    throw error
  }
  return server
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
