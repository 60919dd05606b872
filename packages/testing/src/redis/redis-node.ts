import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { TestServerError } from '../errors.js'
import { attachFaultProxy } from '../faults/attached-proxy.js'
import type { FaultProxy, FaultProxyInfo } from '../faults/fault-proxy.js'
import { freezeTree, isFrozen, notRunning, thawTree } from '../faults/freeze.js'
import { ChildServer } from '../process/child-server.js'
import { procStat } from '../process/proc-stat.js'
import { waitFor } from '../process/wait.js'

const execFileAsync = promisify(execFile)

/** Plain data describing one Redis node, so any process can rebuild and control it. */
export interface RedisNodeInfo {
  readonly port: number
  readonly dir: string
  readonly password?: string | undefined
  /** The cluster bus port, for a node of a Redis Cluster. */
  readonly busPort?: number | undefined
  /** The port clients are told to use (`cluster-announce-port`): the fault proxy's. */
  readonly announcePort?: number | undefined
  /** The fault proxy clients go through, for a server started with `proxied: true`. */
  readonly network?: FaultProxyInfo | undefined
}

/**
 * One redis-server process. Its pid lives in a pid file, so a handle rebuilt in another
 * process (a test file, when a vitest global setup started the server) controls it too.
 *
 * @example
 * ```ts
 * const [node] = (await startRedis()).nodes
 * await node.freeze() // SIGSTOP: connections stay open, nothing answers
 * await node.thaw()
 * ```
 */
export class RedisNode {
  readonly host = '127.0.0.1'
  readonly port: number
  readonly #info: RedisNodeInfo
  readonly #server: ChildServer
  #network: FaultProxy | undefined

  constructor(info: RedisNodeInfo) {
    this.#info = info
    this.port = info.port
    this.#network = info.network && attachFaultProxy(info.network)
    const args = ['--port', String(info.port), '--bind', '127.0.0.1', '--save', '']
    args.push('--appendonly', 'no', '--dir', info.dir, '--daemonize', 'no')
    args.push('--protected-mode', 'no', '--pidfile', this.#pidFile)
    if (info.password) args.push('--requirepass', info.password, '--masterauth', info.password)
    if (info.busPort !== undefined) {
      // An explicit bus port: the default (port + 10000) lands in the ephemeral range.
      args.push('--cluster-enabled', 'yes', '--cluster-node-timeout', '2000')
      args.push('--cluster-port', String(info.busPort))
      if (info.announcePort !== undefined) {
        args.push('--cluster-announce-port', String(info.announcePort))
        args.push('--cluster-announce-bus-port', String(info.busPort))
      }
    }
    this.#server = new ChildServer('redis-server', args, join(info.dir, 'redis.log'), false)
  }

  /** Plain data describing this node. */
  get info(): RedisNodeInfo {
    return { ...this.#info, network: this.#network?.info }
  }

  /**
   * The fault proxy in front of this node when the server was started with `proxied: true`
   * (its controls work from any process); `address` goes through it.
   *
   * @example
   * ```ts
   * const redis = await startRedis({ proxied: true })
   * await redis.nodes[0].network?.blackhole()
   * ```
   */
  get network(): FaultProxy | undefined {
    return this.#network
  }

  /** @internal Puts `proxy` in front of this node for clients. */
  useNetwork(proxy: FaultProxy): void {
    this.#network = proxy
  }

  /** Where clients connect: through {@link network} when there is one. */
  get address(): { host: string; port: number } {
    return { host: this.host, port: this.#network?.port ?? this.port }
  }

  get #pidFile(): string {
    return join(this.#info.dir, 'redis.pid')
  }

  /** The server's pid while it runs (from its pid file; a zombie counts as gone). */
  get pid(): number | undefined {
    if (!existsSync(this.#pidFile)) return undefined
    const pid = Number(readFileSync(this.#pidFile, 'utf8'))
    const stat = procStat(pid)
    const alive = stat?.command === 'redis-server' && stat.state !== 'Z' && stat.state !== 'X'
    return alive ? pid : undefined
  }

  get running(): boolean {
    return this.pid !== undefined
  }

  /** Whether {@link freeze} stopped it. */
  get frozen(): boolean {
    const pid = this.pid
    return pid !== undefined && isFrozen(pid)
  }

  /** Runs a redis-cli command against this node and returns its output. */
  async cli(...args: string[]): Promise<string> {
    const auth = this.#info.password ? ['-a', this.#info.password, '--no-auth-warning'] : []
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

  /** Starts the server (again, on the same port) and waits until it answers PING. */
  async start(): Promise<void> {
    if (this.running) return
    mkdirSync(this.#info.dir, { recursive: true })
    await this.#server.start(() =>
      waitFor(async () => (await this.cli('ping')) === 'PONG', {
        what: `redis on ${this.port}`,
      }).then(() => undefined),
    )
  }

  /** SIGKILL: connections drop at once, nothing is saved. */
  async kill(): Promise<void> {
    // Started by this process: wait for its exit event, so a start() right after respawns it.
    if (this.#server.running) return this.#server.kill()
    const pid = this.pid
    if (pid === undefined) return
    process.kill(pid, 'SIGKILL')
    await waitFor(() => !this.running, { what: `redis on ${this.port} to exit` })
  }

  /** Synchronous SIGKILL, for exit handlers. */
  killSync(): void {
    const pid = this.pid
    if (pid !== undefined) process.kill(pid, 'SIGKILL')
  }

  /**
   * SIGSTOPs the server: its sockets stay open and nothing answers, as with a hung VM or a long
   * pause. Throws `TestServerError` `SERVER_NOT_RUNNING` on a stopped node.
   */
  async freeze(): Promise<void> {
    const pid = this.pid
    if (pid === undefined) throw notRunning(`redis on ${this.port}`, 'freeze')
    await freezeTree(pid, `redis on ${this.port}`)
  }

  /**
   * Kills the node and starts it again with no data, as a restart without persistence or a
   * failover to an empty replica looks to clients (a Cluster node keeps its slots). Works on a
   * frozen or stopped node.
   *
   * @example
   * ```ts
   * await node.restartEmpty()
   * await node.cli('dbsize') // '0'
   * ```
   */
  async restartEmpty(): Promise<void> {
    await this.thaw()
    await this.kill()
    // Nothing is saved (no RDB snapshots, no AOF); remove any file a user's setting left.
    for (const file of ['dump.rdb', 'appendonly.aof', 'appendonlydir'])
      rmSync(join(this.#info.dir, file), { recursive: true, force: true })
    // The killed process may hold its port for a moment after it is gone (a handle rebuilt in a
    // test file kills a server another process started): a start that fails is tried again.
    await waitFor(() => this.start().then(() => true), {
      what: `redis on ${this.port} to restart empty`,
    })
  }

  /**
   * `FLUSHALL` on this node: every key of every database is gone, the process stays up. On a
   * stopped node it is `TestServerError` `SERVER_NOT_RUNNING`, on a frozen one
   * `SERVER_FROZEN` (it would wait forever for an answer).
   */
  async flushAll(): Promise<void> {
    const pid = this.pid
    if (pid === undefined) throw notRunning(`redis on ${this.port}`, 'flushAll')
    if (isFrozen(pid))
      throw new TestServerError(
        'SERVER_FROZEN',
        `flushAll() on redis on ${this.port}, which is frozen: thaw() it first`,
      )
    await this.cli('flushall')
  }

  /** Resumes a frozen node; a no-op on a node that is not frozen. */
  async thaw(): Promise<void> {
    const pid = this.pid
    if (pid !== undefined) thawTree(pid)
  }
}
