import { randomUUID } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'

/** What one instance tells the others to drop from their L1. */
export interface Invalidation {
  readonly keys: readonly string[]
  readonly tags: readonly string[]
}

interface Message extends Invalidation {
  readonly origin: string
  readonly id: number
}

interface Waiting {
  readonly members: Set<string>
  readonly done: () => void
}

/**
 * A field of the members hash that every instance sets on each renewal: a hash without it was
 * lost (FLUSHALL, a restart without persistence, an eviction), and members that hold L1
 * copies may not be in it again yet.
 */
const REGISTRY_MARK = '@'

/**
 * Invalidations between instances over Redis pub/sub, on a connection of its own, confirmed.
 *
 * Every instance with an L1 is a member (a field of one Redis hash, refreshed on a timer) and
 * holds a lease: it serves L1 copies only while a ping on its subscription answered within
 * the last `leaseMs`. An invalidation is published, then waits until every live member has
 * confirmed that it dropped its copies, or `leaseMs` has passed: by then a member that did not
 * confirm (cut off, frozen, dead) has lost its lease and no longer serves L1. So once an
 * invalidation resolves, no instance serves what it removed. After its subscription
 * reconnects, an instance clears its whole L1, since it may have missed messages meanwhile.
 * Never throws: failures are reported and cost only the L1.
 */
export class InvalidationBus {
  readonly #publisher: Redis | Cluster
  readonly #subscriber: Redis | Cluster
  readonly #channel: string
  readonly #members: string
  readonly #origin = randomUUID()
  readonly #leaseMs: number
  readonly #member: boolean
  readonly #onError: (error: unknown) => void
  readonly #waiting = new Map<number, Waiting>()
  readonly #heartbeat: NodeJS.Timeout
  #subscribed = false
  #leaseUntil = 0
  #nextId = 0

  constructor(
    client: Redis | Cluster,
    namespace: string,
    options: { leaseMs: number; member: boolean },
    handlers: {
      onInvalidation: (invalidation: Invalidation) => void
      onMissedMessages: () => void
      onError: (error: unknown) => void
    },
  ) {
    this.#publisher = client
    this.#channel = `${namespace}:invalidations`
    this.#members = `${namespace}:{bus}:members`
    this.#leaseMs = options.leaseMs
    this.#member = options.member
    this.#onError = handlers.onError
    this.#subscriber = client.duplicate()
    this.#subscriber.on('error', handlers.onError)
    const acks = this.#ackChannel(this.#origin)
    this.#subscriber.on('message', (channel: string, text: string) => {
      try {
        if (channel === acks) return this.#acked(JSON.parse(text) as { id: number; from: string })
        const message = JSON.parse(text) as Message
        if (message.origin === this.#origin) return
        handlers.onInvalidation(message)
        const ack = JSON.stringify({ id: message.id, from: this.#origin })
        this.#publisher.publish(this.#ackChannel(message.origin), ack).catch(this.#onError)
      } catch (error) {
        handlers.onError(error)
      }
    })
    this.#subscriber.on('ready', () => {
      if (this.#subscribed) handlers.onMissedMessages()
      this.#subscribed = true
    })
    this.#subscriber.on('close', () => {
      this.#leaseUntil = 0
    })
    this.#subscriber.subscribe(this.#channel, acks).catch(handlers.onError)
    this.#heartbeat = setInterval(() => void this.#renew(), Math.max(10, this.#leaseMs / 4))
    this.#heartbeat.unref()
    void this.#renew()
  }

  /** Whether the subscription is live. */
  get subscribed(): boolean {
    return this.#subscribed && this.#subscriber.status === 'ready'
  }

  /** True while this instance may serve L1 copies: its lease is held at `now` (epoch ms). */
  leasedAt(now: number): boolean {
    return now < this.#leaseUntil
  }

  /** Resolves once the subscription is live and the lease held (for start-up checks). */
  async ready(): Promise<void> {
    await this.#subscriber.subscribe(this.#channel, this.#ackChannel(this.#origin))
    await this.#renew()
  }

  /**
   * Publishes an invalidation; resolves once every live member confirmed it, or after
   * `leaseMs` (x1.1) at the latest, whatever Redis does meanwhile (frozen, slow or gone: never
   * rejects). It is published even when no member is listed; when the members hash was lost
   * (so members with L1 copies may be missing from it), it waits the whole `leaseMs`: by then
   * every subscribed instance has received it, or lost its lease.
   */
  async publish(invalidation: Invalidation): Promise<void> {
    const id = this.#nextId++
    let done = () => {}
    const confirmed = new Promise<void>((resolve) => {
      done = resolve
    })
    const timer = setTimeout(done, this.#leaseMs * 1.1)
    const send = async () => {
      const { members, lost } = await this.#liveMembers()
      if (!lost && members.size > 0) this.#waiting.set(id, { members, done })
      const message = JSON.stringify({ ...invalidation, origin: this.#origin, id })
      await this.#publisher.publish(this.#channel, message)
      if (!lost && members.size === 0) done()
    }
    send().catch((error: unknown) => {
      // Nobody heard it: the invalidation is announced again once the store has it.
      this.#onError(error)
      done()
    })
    try {
      await confirmed
    } finally {
      clearTimeout(timer)
      this.#waiting.delete(id)
    }
  }

  close(): void {
    clearInterval(this.#heartbeat)
    this.#leaseUntil = 0
    for (const waiting of this.#waiting.values()) waiting.done()
    if (this.#member) this.#publisher.hdel(this.#members, this.#origin).catch(() => undefined)
    this.#subscriber.disconnect()
  }

  /** Pings the subscription (the lease), refreshes this member's entry and marks the registry. */
  async #renew(): Promise<void> {
    const sent = Date.now()
    try {
      await Promise.all([
        this.#subscriber.ping(),
        this.#member
          ? this.#publisher.hset(
              this.#members,
              this.#origin,
              sent + 3 * this.#leaseMs,
              REGISTRY_MARK,
              1,
            )
          : this.#publisher.hset(this.#members, REGISTRY_MARK, 1),
      ])
      if (this.#subscribed) this.#leaseUntil = Math.max(this.#leaseUntil, sent + this.#leaseMs)
    } catch (error) {
      this.#onError(error)
    }
  }

  /** The other members whose entries have not expired (expired ones are removed), and whether the hash was lost. */
  async #liveMembers(): Promise<{ members: Set<string>; lost: boolean }> {
    const entries = await this.#publisher.hgetall(this.#members)
    const now = Date.now()
    const live = new Set<string>()
    const expired: string[] = []
    for (const [origin, until] of Object.entries(entries)) {
      if (origin === REGISTRY_MARK) continue
      if (Number(until) <= now) expired.push(origin)
      else if (origin !== this.#origin) live.add(origin)
    }
    if (expired.length > 0) this.#publisher.hdel(this.#members, ...expired).catch(() => undefined)
    return { members: live, lost: entries[REGISTRY_MARK] === undefined }
  }

  #acked({ id, from }: { id: number; from: string }): void {
    const waiting = this.#waiting.get(id)
    if (!waiting) return
    waiting.members.delete(from)
    if (waiting.members.size === 0) waiting.done()
  }

  #ackChannel(origin: string): string {
    return `${this.#channel}:ack:${origin}`
  }
}
