import type { CacheStore } from './cache-store.js'

interface Expiring<T> {
  readonly value: T
  readonly expiresAt: number
}

/**
 * A {@link CacheStore} in this process's memory: the shared tier when there is no Redis, so
 * generations, tags and locks work the same within one process. Expired entries are dropped
 * when read, and swept once the map has grown by `sweepEvery` writes.
 *
 * @example
 * ```ts
 * const store = new MemoryStore()
 * await store.set('greeting', '"hello"', 1000)
 * ```
 */
export class MemoryStore implements CacheStore {
  readonly name = 'memory'
  readonly #values = new Map<string, Expiring<string>>()
  readonly #locks = new Map<string, Expiring<string>>()
  // Generations come from one counter, so a key's new generation differs from any it had
  // before; a key missing from the map (never read, or forgotten to bound memory) fails
  // `setIfGeneration`, which is the safe direction.
  readonly #generations = new Map<string, number>()
  readonly #tags = new Map<string, number>()
  readonly #sweepEvery: number
  readonly #maxGenerations: number
  #counter = 0
  #writes = 0

  constructor({ sweepEvery = 10_000, maxGenerations = 100_000 } = {}) {
    this.#sweepEvery = sweepEvery
    this.#maxGenerations = maxGenerations
  }

  async get(key: string): Promise<string | undefined> {
    return live(this.#values, key)
  }

  async set(key: string, payload: string, ttlMs: number): Promise<void> {
    this.#values.set(key, { value: payload, expiresAt: Date.now() + ttlMs })
    if (++this.#writes % this.#sweepEvery === 0) this.#sweep()
  }

  async generation(key: string): Promise<number> {
    const known = this.#generations.get(key)
    if (known !== undefined) return known
    if (this.#generations.size >= this.#maxGenerations) this.#generations.clear()
    this.#generations.set(key, this.#counter)
    return this.#counter
  }

  async setIfGeneration(
    key: string,
    payload: string,
    ttlMs: number,
    generation: number,
  ): Promise<boolean> {
    if (this.#generations.get(key) !== generation) return false
    await this.set(key, payload, ttlMs)
    return true
  }

  async invalidate(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      this.#values.delete(key)
      if (this.#generations.has(key)) this.#generations.set(key, ++this.#counter)
    }
  }

  async tagVersions(tags: readonly string[]): Promise<number[]> {
    return tags.map((tag) => this.#tags.get(tag) ?? 0)
  }

  async bumpTags(tags: readonly string[]): Promise<void> {
    for (const tag of tags) this.#tags.set(tag, (this.#tags.get(tag) ?? 0) + 1)
  }

  async tryLock(key: string, owner: string, ttlMs: number): Promise<boolean> {
    if (live(this.#locks, key) !== undefined) return false
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
