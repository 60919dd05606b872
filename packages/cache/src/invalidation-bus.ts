import { randomUUID } from 'node:crypto'
import { MAX_TIMER_MS } from '@sluice/core/internal'
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
 * A field of the members hash holding when (Redis's clock, ms) the hash was created. A hash
 * without it was lost (FLUSHALL, a restart without persistence, an eviction); one created
 * again less than a lease ago may not list every member with L1 copies yet (they join at
 * their next renewal, or lose their lease).
 */
const REGISTRY_MARK = '@'

/**
 * Redis's clock in ms, as a string (Lua). Membership is judged on this one clock: a member's
 * entry says until when (Redis's time) it stays a member, so hosts whose clocks disagree
 * still agree on who is live.
 */
const NOW = `local t = redis.call('TIME') local now = t[1] .. string.format('%03d', math.floor(t[2] / 1000))`

const SCRIPTS = {
  // KEYS: members. ARGV: origin ('' for an instance without L1), for how long (ms). The mark.
  sluiceBusRenew: {
    numberOfKeys: 1,
    lua: `${NOW}
redis.call('HSETNX', KEYS[1], '${REGISTRY_MARK}', now)
if ARGV[1] ~= '' then
  redis.call('HSET', KEYS[1], ARGV[1], string.format('%.0f', tonumber(now) + tonumber(ARGV[2])))
end
return redis.call('HGET', KEYS[1], '${REGISTRY_MARK}')`,
  },
  // KEYS: members. The hash (flat) and Redis's clock.
  sluiceBusMembers: {
    numberOfKeys: 1,
    lua: `${NOW}
return {redis.call('HGETALL', KEYS[1]), now}`,
  },
} as const

type Scripted = {
  sluiceBusRenew(members: string, origin: string, forMs: number): Promise<string>
  sluiceBusMembers(members: string): Promise<[string[], string]>
}

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
  readonly #publisher: (Redis | Cluster) & Scripted
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
  /** The first registry mark this instance saw: another one means the registry was lost since. */
  #firstMark: string | undefined
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
    for (const [name, script] of Object.entries(SCRIPTS)) client.defineCommand(name, script)
    this.#publisher = client as (Redis | Cluster) & Scripted
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
   * `leaseMs` (x1.1, at most {@link MAX_TIMER_MS}) at the latest, whatever Redis does meanwhile (frozen, slow or gone: never
   * rejects). It is published even when no member is listed; when the members hash was lost
   * or created again less than a lease ago (members with L1 copies may be missing from it),
   * it waits the whole `leaseMs`: by then every subscribed instance has received it, or lost
   * its lease.
   */
  async publish(invalidation: Invalidation): Promise<void> {
    const id = this.#nextId++
    let done = () => {}
    const confirmed = new Promise<void>((resolve) => {
      done = resolve
    })
    const timer = setTimeout(done, Math.min(this.#leaseMs * 1.1, MAX_TIMER_MS))
    const send = async () => {
      const { members, incomplete } = await this.#liveMembers()
      if (!incomplete && members.size > 0) this.#waiting.set(id, { members, done })
      const message = JSON.stringify({ ...invalidation, origin: this.#origin, id })
      await this.#publisher.publish(this.#channel, message)
      if (!incomplete && members.size === 0) done()
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
      const [, mark] = await Promise.all([
        this.#subscriber.ping(),
        this.#publisher.sluiceBusRenew(
          this.#members,
          this.#member ? this.#origin : '',
          3 * this.#leaseMs,
        ),
      ])
      this.#firstMark ??= mark
      if (this.#subscribed) this.#leaseUntil = Math.max(this.#leaseUntil, sent + this.#leaseMs)
    } catch (error) {
      this.#onError(error)
    }
  }

  /**
   * The other members whose entries have not expired (expired ones are removed), and whether
   * the hash may miss some: it was lost, or created again less than a lease ago.
   */
  async #liveMembers(): Promise<{ members: Set<string>; incomplete: boolean }> {
    const [flat, redisNow] = await this.#publisher.sluiceBusMembers(this.#members)
    // Redis's clock, which set every entry's expiry: this host's own may be off by any amount.
    const now = Number(redisNow)
    const live = new Set<string>()
    const expired: string[] = []
    let created: string | undefined
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const origin = String(flat[i])
      const until = String(flat[i + 1])
      if (origin === REGISTRY_MARK) created = until
      else if (Number(until) <= now) expired.push(origin)
      else if (origin !== this.#origin) live.add(origin)
    }
    if (expired.length > 0) this.#publisher.hdel(this.#members, ...expired).catch(() => undefined)
    if (created === undefined) return { members: live, incomplete: true }
    this.#firstMark ??= created
    const young = now - Number(created) < this.#leaseMs * 1.1
    return { members: live, incomplete: created !== this.#firstMark && young }
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
