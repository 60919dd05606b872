/**
 * Where the shared tier keeps entries, generations, tag versions and locks: Redis in
 * production ({@link RedisStore}), or this process's memory ({@link MemoryStore}) when there
 * is no Redis. Payloads are opaque strings. Every implementation must pass the contract suite
 * in `@sluice/testing/cache-store`.
 *
 * Generations are what stop stale sets: a loader reads the key's generation before it loads,
 * and `setIfGeneration` stores its value only if no invalidation bumped it meanwhile, checked
 * atomically with the write.
 *
 * @example
 * ```ts
 * const generation = await store.generation('user:1')
 * const value = await loadUser(1)
 * const stored = await store.setIfGeneration('user:1', serialize(value), 60_000, generation)
 * // stored === false: the user was invalidated while loading; the value was not cached
 * ```
 */
export interface CacheStore {
  readonly name: string
  get(key: string): Promise<string | undefined>
  /** Stores unconditionally. */
  set(key: string, payload: string, ttlMs: number): Promise<void>
  /** The key's current generation (0 before any invalidation). */
  generation(key: string): Promise<number>
  /** Stores only if the key's generation is still `generation`; false when it moved. */
  setIfGeneration(key: string, payload: string, ttlMs: number, generation: number): Promise<boolean>
  /** Deletes the values and bumps the generations, so loads already running cannot store. */
  invalidate(keys: readonly string[]): Promise<void>
  /** Current versions of tags (0 for a tag never bumped), in the order given. */
  tagVersions(tags: readonly string[]): Promise<number[]>
  /** Increments each tag's version: entries stored under an older version become misses. */
  bumpTags(tags: readonly string[]): Promise<void>
  /** Takes the key's lock for `ttlMs` if it is free; true when `owner` now holds it. */
  tryLock(key: string, owner: string, ttlMs: number): Promise<boolean>
  /** Releases the lock if `owner` still holds it; true when it did. */
  unlock(key: string, owner: string): Promise<boolean>
  close(): Promise<void>
}
