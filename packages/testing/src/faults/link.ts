import { connect, type Socket } from 'node:net'
import { PgFraming } from './pg-framing.js'

/** How a proxy treats traffic right now. */
export type LinkMode =
  | { readonly kind: 'pass'; readonly latencyMs: number }
  | { readonly kind: 'blackhole'; readonly latencyMs: number }
  | { readonly kind: 'cut'; readonly latencyMs: number }

/** Counters a proxy shares with its links. */
export interface LinkCounters {
  connections: number
  bytesToServer: number
  bytesToClient: number
  messagesToServer: number
  messagesToClient: number
  roundTrips: number
}

/** `null` is the end of the stream (a half-close), queued behind the data before it. */
type Item = Buffer | null

/**
 * One direction of a link: delays items by the latency (in order), holds them while
 * blackholed, and writes them to the other side.
 */
class Pipe {
  readonly #to: Socket
  readonly #written: (chunk: Buffer) => void
  #held: Item[] = []
  #queue: { at: number; item: Item }[] = []
  #timer: NodeJS.Timeout | undefined

  constructor(to: Socket, written: (chunk: Buffer) => void) {
    this.#to = to
    this.#written = written
  }

  push(item: Item, mode: LinkMode): void {
    if (mode.kind === 'blackhole') this.#held.push(item)
    else if (mode.kind === 'pass') this.#enqueue(item, mode.latencyMs)
  }

  /** Delivers what a blackhole held, with the current latency. */
  release(latencyMs: number): void {
    const held = this.#held
    this.#held = []
    for (const item of held) this.#enqueue(item, latencyMs)
  }

  #enqueue(item: Item, latencyMs: number): void {
    const last = this.#queue.at(-1)?.at ?? 0
    const at = Math.max(Date.now() + latencyMs, last)
    if (this.#queue.length === 0 && latencyMs === 0) {
      this.#write(item)
    } else {
      this.#queue.push({ at, item })
      this.#schedule()
    }
  }

  #schedule(): void {
    if (this.#timer || this.#queue.length === 0) return
    const wait = Math.max(0, (this.#queue[0]?.at ?? 0) - Date.now())
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      while (this.#queue.length > 0 && (this.#queue[0]?.at ?? 0) <= Date.now())
        this.#write(this.#queue.shift()?.item ?? null)
      this.#schedule()
    }, wait)
  }

  #write(item: Item): void {
    if (this.#to.destroyed) return
    if (item === null) {
      this.#to.end()
      return
    }
    this.#to.write(item)
    this.#written(item)
  }

  destroy(): void {
    clearTimeout(this.#timer)
    this.#queue = []
    this.#held = []
  }
}

/** A client connection and its connection to the server, forwarding both ways. */
export class Link {
  readonly closed: Promise<void>
  readonly #client: Socket
  readonly #server: Socket
  readonly #up: Pipe
  readonly #down: Pipe
  #mode: LinkMode
  #lastSpoke: 'client' | 'server' | undefined

  constructor(
    client: Socket,
    target: { host: string; port: number },
    counters: LinkCounters,
    postgres: boolean,
    mode: LinkMode,
  ) {
    this.#client = client
    this.#mode = mode
    this.#server = connect({ ...target, allowHalfOpen: true })
    const framing = postgres ? new PgFraming() : undefined
    this.#up = new Pipe(this.#server, (chunk) => {
      counters.bytesToServer += chunk.length
      if (this.#lastSpoke !== 'client') counters.roundTrips += 1
      this.#lastSpoke = 'client'
      if (!framing) return
      const before = framing.toServer
      framing.fromClient(chunk)
      counters.messagesToServer += framing.toServer - before
    })
    this.#down = new Pipe(client, (chunk) => {
      counters.bytesToClient += chunk.length
      this.#lastSpoke = 'server'
      if (!framing) return
      const before = framing.toClient
      framing.fromServer(chunk)
      counters.messagesToClient += framing.toClient - before
    })
    client.on('data', (chunk) => this.#up.push(chunk, this.#mode))
    this.#server.on('data', (chunk) => this.#down.push(chunk, this.#mode))
    client.on('end', () => this.#up.push(null, this.#mode))
    this.#server.on('end', () => this.#down.push(null, this.#mode))
    // An error on one side (refused, reset) is passed on as a reset of the other.
    client.on('error', () => this.#reset())
    this.#server.on('error', () => this.#reset())
    const closedOnce = (socket: Socket) => new Promise<void>((r) => socket.once('close', r))
    this.closed = Promise.all([closedOnce(client), closedOnce(this.#server)]).then(() => {
      this.#up.destroy()
      this.#down.destroy()
    })
  }

  setMode(mode: LinkMode): void {
    const wasBlackholed = this.#mode.kind === 'blackhole'
    this.#mode = mode
    if (mode.kind === 'cut') this.#reset()
    else if (wasBlackholed && mode.kind === 'pass') {
      this.#up.release(mode.latencyMs)
      this.#down.release(mode.latencyMs)
    }
  }

  #reset(): void {
    for (const socket of [this.#client, this.#server]) {
      if (socket.destroyed) continue
      if (socket.connecting) socket.destroy()
      else socket.resetAndDestroy()
    }
  }

  destroy(): void {
    this.#client.destroy()
    this.#server.destroy()
  }
}
