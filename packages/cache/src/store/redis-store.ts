import { randomUUID } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'
import type { CacheStore, Floor, Versioned } from './cache-store.js'

/**
 * How long a generation, a tag version or a floor is kept after it was last read for a load
 * or moved: 24 h. One that expired is created afresh, so entries stored under it turn into
 * misses: an entry under a tag not used for loads for a day may be reloaded once.
 */
const VERSION_TTL_MS = 24 * 60 * 60 * 1000

/** Longest tag version read back (they are UUIDs): a longer one is not ours, and a miss. */
const MAX_VERSION_BYTES = 64

/** Compare-and-set rounds for a floor that other writers keep raising (each round is one call). */
const FLOOR_ROUNDS = 16

// Every read of a script: a key of another type (another program's hash under our name) reads
// as missing instead of failing the script with WRONGTYPE, which would count against the breaker.
const READ = `local function read(k)
if redis.call('TYPE', k).ok == 'string' then return redis.call('GET', k) end
return false
end
`

const SCRIPTS = {
  // KEYS: version, floor. ARGV: fresh version, ttl. Creates a missing version (a fresh random
  // one: never one a loader saw before the store lost it) and returns it with the floor ('' for
  // none) and 1 when the version or the floor was missing (the floor may have been lost).
  sluiceVersion: {
    numberOfKeys: 2,
    lua: `${READ}local v = read(KEYS[1])
local f = read(KEYS[2])
if v then redis.call('PEXPIRE', KEYS[1], ARGV[2]) else redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
if f then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
return {v or ARGV[1], f or '', (v and f) and 0 or 1}`,
  },
  // KEYS: value, generation. ARGV: expected generation, payload, ttl. A missing generation
  // (expired, evicted or lost while loading) counts as moved.
  sluiceSetIfGeneration: {
    numberOfKeys: 2,
    lua: `${READ}if read(KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`,
  },
  // KEYS: value (or the version again, for a tag), version, floor. ARGV: fresh version, ttl.
  // The floor lives as long as its version; a missing one is not created (it stays lost).
  sluiceBump: {
    numberOfKeys: 3,
    lua: `if KEYS[1] ~= KEYS[2] then redis.call('DEL', KEYS[1]) end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
redis.call('PEXPIRE', KEYS[3], ARGV[2])
return 1`,
  },
  // KEYS: floor. ARGV: expected floor ('' for none), new floor, ttl. The floor now, or ''
  // when it was replaced.
  sluiceSwapFloor: {
    numberOfKeys: 1,
    lua: `${READ}local f = read(KEYS[1]) or ''
if f ~= ARGV[1] then return f end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return ''`,
  },
  // KEYS: lock. ARGV: owner, ttl. A lock key that is not one of ours (another type, or no
  // expiry: ours always have one) is taken over; SET NX would fail on it until it expired, if
  // ever, and every load of the key would wait for a holder that does not exist.
  sluiceLock: {
    numberOfKeys: 1,
    lua: `local t = redis.call('TYPE', KEYS[1]).ok
if t ~= 'none' and (t ~= 'string' or redis.call('PTTL', KEYS[1]) == -1) then redis.call('DEL', KEYS[1]) end
return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX')`,
  },
  // KEYS: lock. ARGV: owner, ttl.
  sluiceExtendLock: {
    numberOfKeys: 1,
    lua: `${READ}if read(KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`,
  },
  // KEYS: lock. ARGV: owner.
  sluiceUnlock: {
    numberOfKeys: 1,
    lua: `${READ}if read(KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
  },
} as const

type Scripted = {
  sluiceVersion(
    version: string,
    floor: string,
    fresh: string,
    ttlMs: number,
  ): Promise<[string, string, number]>
  sluiceSetIfGeneration(
    value: string,
    generation: string,
    expected: string,
    payload: string,
    ttlMs: number,
  ): Promise<number>
  sluiceBump(
    value: string,
    version: string,
    floor: string,
    fresh: string,
    ttlMs: number,
  ): Promise<number>
  sluiceSwapFloor(floor: string, expected: string, next: string, ttlMs: number): Promise<string>
  sluiceLock(lock: string, owner: string, ttlMs: number): Promise<string | null>
  sluiceExtendLock(lock: string, owner: string, ttlMs: number): Promise<number>
  sluiceUnlock(lock: string, owner: string): Promise<number>
}

/**
 * A {@link CacheStore} on Redis or a Redis Cluster (ioredis). A key's value, generation,
 * floor and lock are `<namespace>:{k<key>}:v|g|f|l`, a tag's version and floor
 * `<namespace>:{t<tag>}:tag|f`: the hash tag is never empty and ends at the key's first `}`
 * in every name of the group, so whatever characters a key holds, its group is one Cluster
 * slot and the scripts that touch it together run on one node.
 *
 * @example
 * ```ts
 * const store = new RedisStore(new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'), 'app')
 * ```
 */
export class RedisStore implements CacheStore {
  readonly name = 'redis'
  /** The client it was given (the cache also listens for invalidations on a copy of it). */
  readonly client: Redis | Cluster
  readonly #redis: (Redis | Cluster) & Scripted
  readonly #namespace: string

  constructor(redis: Redis | Cluster, namespace: string) {
    for (const [name, script] of Object.entries(SCRIPTS)) {
      redis.defineCommand(name, script)
    }
    this.client = redis
    this.#redis = redis as (Redis | Cluster) & Scripted
    this.#namespace = namespace
  }

  async get(key: string, maxBytes?: number): Promise<string | undefined> {
    return this.#read(this.#key(key, 'v'), maxBytes)
  }

  generation(key: string): Promise<Versioned> {
    return this.#version(this.#key(key, 'g'), this.#key(key, 'f'))
  }

  async setIfGeneration(
    key: string,
    payload: string,
    ttlMs: number,
    generation: string,
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

  invalidate(keys: readonly string[], floor?: Floor): Promise<readonly string[]> {
    return Promise.all(
      keys.map(async (key) => {
        if (floor) await this.#raiseFloor(this.#key(key, 'f'), floor)
        const generation = randomUUID()
        await this.#redis.sluiceBump(
          this.#key(key, 'v'),
          this.#key(key, 'g'),
          this.#key(key, 'f'),
          generation,
          VERSION_TTL_MS,
        )
        return generation
      }),
    )
  }

  async tagVersions(tags: readonly string[]): Promise<(string | undefined)[]> {
    // One call per tag: tags hash to different Cluster slots, so no MGET. A version key of
    // another type reads as '', which matches no version: the entries under it are misses.
    return Promise.all(tags.map((tag) => this.#read(this.#tag(tag, 'tag'), MAX_VERSION_BYTES)))
  }

  snapshotTags(tags: readonly string[]): Promise<Versioned[]> {
    return Promise.all(tags.map((tag) => this.#version(this.#tag(tag, 'tag'), this.#tag(tag, 'f'))))
  }

  async bumpTags(tags: readonly string[], floor?: Floor): Promise<void> {
    await Promise.all(
      tags.map(async (tag) => {
        if (floor) await this.#raiseFloor(this.#tag(tag, 'f'), floor)
        const version = this.#tag(tag, 'tag')
        await this.#redis.sluiceBump(
          version,
          version,
          this.#tag(tag, 'f'),
          randomUUID(),
          VERSION_TTL_MS,
        )
      }),
    )
  }

  async recordFloors(keys: readonly string[], tags: readonly string[], floor: Floor) {
    await Promise.all([
      ...keys.map((key) => this.#raiseFloor(this.#key(key, 'f'), floor)),
      ...tags.map((tag) => this.#raiseFloor(this.#tag(tag, 'f'), floor)),
    ])
  }

  async tryLock(key: string, owner: string, ttlMs: number): Promise<boolean> {
    return (await this.#redis.sluiceLock(this.#key(key, 'l'), owner, ttlMs)) === 'OK'
  }

  async extendLock(key: string, owner: string, ttlMs: number): Promise<boolean> {
    return Number(await this.#redis.sluiceExtendLock(this.#key(key, 'l'), owner, ttlMs)) === 1
  }

  async unlock(key: string, owner: string): Promise<boolean> {
    return Number(await this.#redis.sluiceUnlock(this.#key(key, 'l'), owner)) === 1
  }

  /** Leaves the client open: it belongs to the caller. */
  async close(): Promise<void> {}

  async #version(version: string, floor: string): Promise<Versioned> {
    const [value, token, lost] = await this.#redis.sluiceVersion(
      version,
      floor,
      randomUUID(),
      VERSION_TTL_MS,
    )
    return { version: value, floor: token === '' ? undefined : token, floorLost: lost === 1 }
  }

  /**
   * A string key's value, as one plain command (the hit path): with `maxBytes`, `GETRANGE`
   * fetches at most one byte more, and a longer value (a foreign one: none is stored over the
   * limit) is ''; so is a key of another type, whose WRONGTYPE is the key's content, not a
   * store failure that would count against the breaker. `GETRANGE` gives '' for a missing key:
   * no stored payload or version is ''.
   */
  async #read(key: string, maxBytes: number | undefined): Promise<string | undefined> {
    try {
      if (maxBytes === undefined) return (await this.#redis.get(key)) ?? undefined
      const bytes = await this.#redis.getrangeBuffer(key, 0, maxBytes)
      if (bytes.length === 0) return undefined
      return bytes.length > maxBytes ? '' : bytes.toString()
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('WRONGTYPE')) return ''
      throw error
    }
  }

  /** Compare-and-set until the stored floor is the newest of it and `floor.token`. */
  async #raiseFloor(key: string, { token, newest }: Floor): Promise<void> {
    let expected = ''
    for (let round = 0; round < FLOOR_ROUNDS; round++) {
      const next = expected === '' ? token : newest(expected, token)
      if (next === expected) return
      const current = await this.#redis.sluiceSwapFloor(key, expected, next, VERSION_TTL_MS)
      if (current === '') return
      expected = current
    }
    throw new Error(`the floor of ${key} kept changing (${FLOOR_ROUNDS} rounds)`)
  }

  #key(key: string, part: 'v' | 'g' | 'f' | 'l'): string {
    return `${this.#namespace}:{k${key}}:${part}`
  }

  #tag(tag: string, part: 'tag' | 'f'): string {
    return `${this.#namespace}:{t${tag}}:${part}`
  }
}
