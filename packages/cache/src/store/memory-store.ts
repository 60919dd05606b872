import { randomUUID } from 'node:crypto'
import type { CacheStore, Floor, Versioned } from './cache-store.js'

interface Expiring<T> {
  readonly value: T
  readonly expiresAt: number
}

interface Version {
  readonly version: string
  floor: string | undefined
}

/**
 * A {@link CacheStore} in this process's memory: the shared tier when there is no Redis, so
 * generations, tags and locks work the same within one process. Expired entries are dropped
 * when read, and swept once the map has grown by `sweepEvery` writes. Generations and tag
 * versions are kept for at most `maxVersions` keys and tags each; past that they are all
 * forgotten, which only turns running loads' stores and stored entries into misses: a
 * forgotten version is created afresh, never handed out again.
 *
 * @example
 * ```ts
 * const store = new MemoryStore()
 * const { version } = await store.generation('greeting')
 * await store.setIfGeneration('greeting', '"hello"', 1000, version)
 * ```
 */
export class MemoryStore implements CacheStore {
  readonly name = 'memory'
  readonly #values = new Map<string, Expiring<string>>()
  readonly #locks = new Map<string, Expiring<string>>()
  readonly #generations = new Map<string, Version>()
  readonly #tags = new Map<string, Version>()
  readonly #sweepEvery: number
  readonly #maxVersions: number
  // Versions are this instance's id and a counter: unique for the life of the process.
  readonly #id = randomUUID()
  #counter = 0
  #writes = 0
  // The newest floor among forgotten versions: the floor of every version created after.
  #forgottenFloor: string | undefined
  #newest: Floor['newest'] | undefined

  constructor({ sweepEvery = 10_000, maxVersions = 100_000 } = {}) {
    this.#sweepEvery = sweepEvery
    this.#maxVersions = maxVersions
  }

  async get(key: string): Promise<string | undefined> {
    return live(this.#values, key)
  }

  async generation(key: string): Promise<Versioned> {
    return { ...this.#current(this.#generations, key) }
  }

  async setIfGeneration(
    key: string,
    payload: string,
    ttlMs: number,
    generation: string,
  ): Promise<boolean> {
    if (this.#generations.get(key)?.version !== generation) return false
    this.#values.set(key, { value: payload, expiresAt: Date.now() + ttlMs })
    if (++this.#writes % this.#sweepEvery === 0) this.#sweep()
    return true
  }

  async invalidate(keys: readonly string[], floor?: Floor): Promise<readonly string[]> {
    return keys.map((key) => {
      this.#values.delete(key)
      return this.#bump(this.#generations, key, floor)
    })
  }

  async tagVersions(tags: readonly string[]): Promise<(string | undefined)[]> {
    return tags.map((tag) => this.#tags.get(tag)?.version)
  }

  async snapshotTags(tags: readonly string[]): Promise<Versioned[]> {
    return tags.map((tag) => ({ ...this.#current(this.#tags, tag) }))
  }

  async bumpTags(tags: readonly string[], floor?: Floor): Promise<void> {
    for (const tag of tags) this.#bump(this.#tags, tag, floor)
  }

  /** Records a load's floor where an invalidation left an unknown one (it never loses floors). */
  async recordFloors(keys: readonly string[], tags: readonly string[], floor: Floor) {
    const raise = (map: Map<string, Version>, name: string) => {
      const version = this.#current(map, name)
      version.floor =
        version.floor === undefined ? floor.token : floor.newest(version.floor, floor.token)
    }
    for (const key of keys) raise(this.#generations, key)
    for (const tag of tags) raise(this.#tags, tag)
  }

  async tryLock(key: string, owner: string, ttlMs: number): Promise<boolean> {
    if (live(this.#locks, key) !== undefined) return false
    this.#locks.set(key, { value: owner, expiresAt: Date.now() + ttlMs })
    return true
  }

  async extendLock(key: string, owner: string, ttlMs: number): Promise<boolean> {
    if (live(this.#locks, key) !== owner) return false
    this.#locks.set(key, { value: owner, expiresAt: Date.now() + ttlMs })
    return true
  }

  async unlock(key: string, owner: string): Promise<boolean> {
    if (live(this.#locks, key) !== owner) return false
    this.#locks.delete(key)
    return true
  }

  async close(): Promise<void> {
    this.#values.clear()
    this.#locks.clear()
  }

  #current(map: Map<string, Version>, name: string): Version {
    const known = map.get(name)
    if (known) return known
    const created = { version: this.#fresh(), floor: this.#forgottenFloor }
    this.#remember(map, name, created)
    return created
  }

  /** Moves a generation or tag version; returns the new one. */
  #bump(map: Map<string, Version>, name: string, floor: Floor | undefined): string {
    if (floor) this.#newest = floor.newest
    const before = map.get(name)?.floor ?? this.#forgottenFloor
    const token = floor && (before === undefined ? floor.token : floor.newest(before, floor.token))
    const version = this.#fresh()
    this.#remember(map, name, { version, floor: token ?? before })
    return version
  }

  #remember(map: Map<string, Version>, name: string, version: Version): void {
    if (!map.has(name) && map.size >= this.#maxVersions) {
      const newest = this.#newest
      for (const { floor } of newest ? map.values() : []) {
        if (floor !== undefined) {
          this.#forgottenFloor =
            this.#forgottenFloor === undefined ? floor : newest?.(this.#forgottenFloor, floor)
        }
      }
      map.clear()
    }
    map.set(name, version)
  }

  #fresh(): string {
    return `${this.#id}:${++this.#counter}`
  }

  #sweep(): void {
    const now = Date.now()
    for (const [key, entry] of this.#values) if (entry.expiresAt <= now) this.#values.delete(key)
  }
}

function live(map: Map<string, Expiring<string>>, key: string): string | undefined {
  const entry = map.get(key)
  if (entry === undefined) return undefined
  if (entry.expiresAt > Date.now()) return entry.value
  map.delete(key)
  return undefined
}
