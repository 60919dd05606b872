import { randomUUID } from 'node:crypto'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { TestServerError } from '../errors.js'
import { freePort } from '../process/ports.js'
import { checkAddress, checkLatency } from './attached-proxy.js'
import { type ControlAddress, exposeForControl, withdrawFromControl } from './control-channel.js'
import { Link, type LinkCounters, type LinkMode } from './link.js'

/** Options of {@link startFaultProxy}. */
export interface StartFaultProxyOptions {
  /** The server to forward to. */
  readonly host: string
  readonly port: number
  /** `postgres` also counts protocol messages in {@link FaultProxyStats}. Default `raw`. */
  readonly protocol?: 'postgres' | 'raw'
  /** Listen on this port of 127.0.0.1 (default: a free one). */
  readonly listenPort?: number
}

/** What went through a proxy since it started. */
export interface FaultProxyStats {
  /** Where new connections go. */
  readonly target: { readonly host: string; readonly port: number }
  /** Client connections accepted, and how many are open now. */
  readonly connections: number
  readonly openConnections: number
  /** Bytes forwarded each way. */
  readonly bytesToServer: number
  readonly bytesToClient: number
  /** PostgreSQL protocol messages forwarded each way (`protocol: 'postgres'`; else 0). */
  readonly messagesToServer: number
  readonly messagesToClient: number
  /** Bursts of client bytes after the server last spoke: request/response round trips. */
  readonly roundTrips: number
}

/** Plain data to drive a proxy from another process with {@link attachFaultProxy}. */
export interface FaultProxyInfo {
  readonly id: string
  readonly host: string
  readonly port: number
  readonly control: ControlAddress
}

/**
 * Options of {@link FaultProxy.retarget}.
 *
 * @example
 * ```ts
 * const proxy = await startFaultProxy({ host: '127.0.0.1', port: 5432 })
 * await proxy.retarget('127.0.0.1', 5433, { cut: true })
 * ```
 */
export interface RetargetOptions {
  /** Reset every open connection too. Default `false`: they stay on the old server. */
  readonly cut?: boolean
}

/**
 * A TCP proxy that injects network faults. Every control is async and works the same on the
 * proxy {@link startFaultProxy} returned and on one {@link attachFaultProxy} rebuilt in another
 * process (a test file, when a vitest global setup started it).
 *
 * @example
 * ```ts
 * const proxy = await startFaultProxy({ host: '127.0.0.1', port: 5432 })
 * await proxy.latency(50) // every chunk 50 ms late, both ways
 * await proxy.restore()
 * await proxy.stop()
 * ```
 */
export interface FaultProxy {
  /** Where clients connect. */
  readonly host: string
  readonly port: number
  readonly info: FaultProxyInfo
  /** Delays every chunk by `ms` in each direction (a round trip gets 2 × `ms` slower). */
  latency(ms: number): Promise<void>
  /** Keeps connections open and forwards nothing (new ones are accepted too) until restore. */
  blackhole(): Promise<void>
  /** Resets every open connection and resets new ones at once, until restore. */
  cut(): Promise<void>
  /** Back to a plain pass-through; what a blackhole held is delivered. */
  restore(): Promise<void>
  /**
   * New connections go to another server (a DNS name or virtual IP moving on failover). Open
   * connections stay on the old one, or, with `{ cut: true }`, are reset (ECONNRESET), as when
   * a virtual IP moves and the old server's connections die with it.
   */
  retarget(host: string, port: number, options?: RetargetOptions): Promise<void>
  stats(): Promise<FaultProxyStats>
  /** Closes the listener and every connection. */
  stop(): Promise<void>
}

/**
 * Starts a {@link FaultProxy} on 127.0.0.1 in front of `host:port`, which must be listening
 * (else `TestServerError` `UPSTREAM_UNREACHABLE`).
 *
 * @example
 * ```ts
 * const proxy = await startFaultProxy({ host: '127.0.0.1', port: redisPort })
 * const client = new Redis({ host: proxy.host, port: proxy.port })
 * await proxy.cut() // the client sees ECONNRESET
 * ```
 */
export async function startFaultProxy(options: StartFaultProxyOptions): Promise<FaultProxy> {
  checkAddress(options.host, options.port)
  if (options.listenPort !== undefined) checkAddress('127.0.0.1', options.listenPort)
  await probe(options.host, options.port)
  const port = options.listenPort ?? (await freePort())
  const proxy = new LocalFaultProxy(options, port)
  await proxy.listen()
  proxy.control = await exposeForControl(proxy.id, {
    latency: (ms: number) => proxy.latency(ms),
    blackhole: () => proxy.blackhole(),
    cut: () => proxy.cut(),
    restore: () => proxy.restore(),
    retarget: (host: string, port: number, options?: RetargetOptions) =>
      proxy.retarget(host, port, options),
    stats: () => proxy.stats(),
    stop: () => proxy.stop(),
  } satisfies Omit<FaultProxy, 'host' | 'port' | 'info'>)
  return proxy
}

class LocalFaultProxy implements FaultProxy {
  readonly id = randomUUID()
  readonly host = '127.0.0.1'
  readonly port: number
  control: ControlAddress | undefined
  readonly #server: Server
  readonly #links = new Set<Link>()
  readonly #counters: LinkCounters
  readonly #postgres: boolean
  #target: { host: string; port: number }
  #mode: LinkMode = { kind: 'pass', latencyMs: 0 }

  constructor(options: StartFaultProxyOptions, port: number) {
    this.port = port
    this.#postgres = options.protocol === 'postgres'
    this.#target = { host: options.host, port: options.port }
    this.#counters = {
      connections: 0,
      bytesToServer: 0,
      bytesToClient: 0,
      messagesToServer: 0,
      messagesToClient: 0,
      roundTrips: 0,
    }
    // Half-open both ways: a client that sends its request and shuts down its side still gets
    // the answer, as it would from the server itself.
    this.#server = createServer({ allowHalfOpen: true }, (client) => this.#accept(client))
  }

  get info(): FaultProxyInfo {
    return {
      id: this.id,
      host: this.host,
      port: this.port,
      control: this.control as ControlAddress,
    }
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', (error) =>
        reject(
          new TestServerError('SERVER_START_FAILED', `fault proxy on ${this.port}: ${error}`, {
            cause: error,
          }),
        ),
      )
      this.#server.listen({ port: this.port, host: this.host, exclusive: true }, resolve)
    })
  }

  #accept(client: Socket): void {
    this.#counters.connections += 1
    if (this.#mode.kind === 'cut') {
      client.on('error', () => {})
      client.resetAndDestroy()
      return
    }
    const link = new Link(client, this.#target, this.#counters, this.#postgres, this.#mode)
    this.#links.add(link)
    link.closed.then(() => this.#links.delete(link))
  }

  #setMode(mode: LinkMode): void {
    this.#mode = mode
    for (const link of this.#links) link.setMode(mode)
  }

  async latency(ms: number): Promise<void> {
    checkLatency(ms)
    this.#setMode({ kind: 'pass', latencyMs: ms })
  }

  async blackhole(): Promise<void> {
    this.#setMode({ kind: 'blackhole', latencyMs: this.#mode.latencyMs })
  }

  async cut(): Promise<void> {
    this.#setMode({ kind: 'cut', latencyMs: 0 })
  }

  async restore(): Promise<void> {
    this.#setMode({ kind: 'pass', latencyMs: 0 })
  }

  async retarget(host: string, port: number, { cut = false }: RetargetOptions = {}): Promise<void> {
    checkAddress(host, port)
    await probe(host, port)
    this.#target = { host, port }
    if (cut) for (const link of this.#links) link.setMode({ kind: 'cut', latencyMs: 0 })
  }

  async stats(): Promise<FaultProxyStats> {
    return { target: { ...this.#target }, openConnections: this.#links.size, ...this.#counters }
  }

  async stop(): Promise<void> {
    withdrawFromControl(this.id)
    for (const link of this.#links) link.destroy()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }
}

/** Fails with `UPSTREAM_UNREACHABLE` unless something accepts connections at `host:port`. */
function probe(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, timeout: 10_000 })
    const fail = (reason: string) => {
      socket.destroy()
      reject(
        new TestServerError(
          'UPSTREAM_UNREACHABLE',
          `fault proxy: nothing accepts connections at ${host}:${port} (${reason})`,
        ),
      )
    }
    socket.once('connect', () => {
      socket.destroy()
      resolve()
    })
    socket.once('timeout', () => fail('no answer within 10 s'))
    socket.once('error', (error: NodeJS.ErrnoException) => fail(error.code ?? error.message))
  })
}
