import type { Cluster, Redis } from 'ioredis'
import type { CacheStore } from './cache-store.js'

/** How long a key's generation is remembered after it was last read or bumped: 24 h. */
const GENERATION_TTL_MS = 24 * 60 * 60 * 1000

const SCRIPTS = {
  // KEYS: generation. ARGV: ttl. Creates the generation so that its loss is detectable.
  sluiceGeneration: {
    numberOfKeys: 1,
    lua: `local g = redis.call('GET', KEYS[1])
if not g then redis.call('SET', KEYS[1], '0', 'PX', ARGV[1]) return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return tonumber(g)`,
  },
  // KEYS: value, generation. ARGV: expected generation, payload, ttl. A missing generation
  // (expired or evicted while loading) counts as moved.
  sluiceSetIfGeneration: {
    numberOfKeys: 2,
    lua: `local g = redis.call('GET', KEYS[2])
if (not g) or g ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`,
  },
  // KEYS: value, generation. ARGV: generation ttl.
  sluiceInvalidate: {
    numberOfKeys: 2,
    lua: `redis.call('DEL', KEYS[1])
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return 1`,
  },
  // KEYS: lock. ARGV: owner.
  sluiceUnlock: {
    numberOfKeys: 1,
    lua: `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
  },
} as const

type Scripted = {
  sluiceGeneration(key: string, ttlMs: number): Promise<number>
  sluiceSetIfGeneration(
    value: string,
    generation: string,
    expected: number,
    payload: string,
    ttlMs: number,
  ): Promise<number>
  sluiceInvalidate(value: string, generation: string, ttlMs: number): Promise<number>
  sluiceUnlock(lock: string, owner: string): Promise<number>
}

/**
 * A {@link CacheStore} on Redis or a Redis Cluster (ioredis). A key's value, generation and
 * lock live under one hash tag (`<namespace>:{<key>}:v|g|l`), so the scripts that touch them
 * together run on one Cluster node; tag versions are `<namespace>:tag:{<tag>}`.
 *
 * @example
 * ```ts
 * const store = new RedisStore(new Redis(process.env.REDIS_URL), 'app')
 * ```
 */
export class RedisStore implements CacheStore {
  readonly name = 'redis'
  readonly #redis: (Redis | Cluster) & Scripted
  readonly #namespace: string

  constructor(redis: Redis | Cluster, namespace: string) {
    for (const [name, script] of Object.entries(SCRIPTS)) {
      redis.defineCommand(name, script)
    }
    this.#redis = redis as (Redis | Cluster) & Scripted
    this.#namespace = namespace
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.#redis.get(this.#key(key, 'v'))) ?? undefined
  }

  async set(key: string, payload: string, ttlMs: number): Promise<void> {
    await this.#redis.set(this.#key(key, 'v'), payload, 'PX', ttlMs)
  }

  async generation(key: string): Promise<number> {
    return Number(await this.#redis.sluiceGeneration(this.#key(key, 'g'), GENERATION_TTL_MS))
  }

  async setIfGeneration(
    key: string,
    payload: string,
    ttlMs: number,
    generation: number,
  ): Promise<boolean> {
    const stored = await this.#redis.sluiceSetIfGeneration(
      this.#key(key, 'v'),
      this.#key(key, 'g'),
      generation,
      payload,
      ttlMs,
    )
    return Number(stored) === 1
  }

  async invalidate(keys: readonly string[]): Promise<void> {
    await Promise.all(
      keys.map((key) =>
        this.#redis.sluiceInvalidate(this.#key(key, 'v'), this.#key(key, 'g'), GENERATION_TTL_MS),
      ),
    )
  }

  async tagVersions(tags: readonly string[]): Promise<number[]> {
    // One GET per tag: tags hash to different Cluster slots, so no MGET.
    const values = await Promise.all(tags.map((tag) => this.#redis.get(this.#tag(tag))))
    return values.map((value) => Number(value ?? 0))
  }

  async bumpTags(tags: readonly string[]): Promise<void> {
    await Promise.all(tags.map((tag) => this.#redis.incr(this.#tag(tag))))
  }

  async tryLock(key: string, owner: string, ttlMs: number): Promise<boolean> {
    return (await this.#redis.set(this.#key(key, 'l'), owner, 'PX', ttlMs, 'NX')) === 'OK'
  }

  async unlock(key: string, owner: string): Promise<boolean> {
    return Number(await this.#redis.sluiceUnlock(this.#key(key, 'l'), owner)) === 1
  }

  /** Leaves the client open: it belongs to the caller. */
  async close(): Promise<void> {}

  #key(key: string, part: 'v' | 'g' | 'l'): string {
    return `${this.#namespace}:{${key}}:${part}`
  }

  #tag(tag: string): string {
    return `${this.#namespace}:tag:{${tag}}`
  }
}
