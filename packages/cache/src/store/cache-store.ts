/**
 * A consistency floor to record with an invalidation: the invalidating write's token, and how
 * to keep the newest of two tokens (the router's `newestToken`). A store keeps, per key and
 * per tag, the newest floor any invalidation recorded.
 */
export interface Floor {
  readonly token: string
  readonly newest: (a: string, b: string) => string
}

/**
 * A key's generation, or a tag's version, with the newest floor recorded with its
 * invalidations (`undefined` when none was).
 */
export interface Versioned {
  readonly version: string
  readonly floor: string | undefined
  /**
   * True when the store did not hold the version or its floor (never loaded, expired,
   * evicted, or lost with the store's data): an invalidation's floor may have been lost, so
   * the load reads at the primary's latest position and records it ({@link CacheStore.recordFloors}).
   * A store that never loses floors leaves it out.
   */
  readonly floorLost?: boolean
}

/**
 * Where the shared tier keeps entries, generations, tag versions, floors and locks: Redis in
 * production ({@link RedisStore}), or this process's memory ({@link MemoryStore}). Payloads
 * are opaque strings. Every implementation must pass the contract suite in
 * `@sluice/testing/cache-store`.
 *
 * Generations are what stop stale sets: a loader reads the key's generation before it loads,
 * and `setIfGeneration` stores its value only if no invalidation moved it meanwhile, checked
 * atomically with the write. Generations and tag versions are random strings, fresh at every
 * invalidation and whenever the store does not hold one (never loaded, expired, evicted, or
 * the store lost its data): a version a loader or an entry saw is never handed out again.
 *
 * @example
 * ```ts
 * const { version } = await store.generation('user:1')
 * const value = await loadUser(1)
 * const stored = await store.setIfGeneration('user:1', serialize(value), 60_000, version)
 * // stored === false: the user was invalidated while loading; the value was not cached
 * ```
 */
export interface CacheStore {
  readonly name: string
  /**
   * The payload stored for `key`. With `maxBytes`, a value the store will not hand out (over
   * `maxBytes`, or not one a `setIfGeneration` could have written) is `''`, which the cache
   * reads as an unreadable payload: a miss, reported, and replaced by the next load.
   */
  get(key: string, maxBytes?: number): Promise<string | undefined>
  /** The key's generation (created when the store holds none) and floor. */
  generation(key: string): Promise<Versioned>
  /** Stores only if the key's generation is still `generation`; false when it moved. */
  setIfGeneration(key: string, payload: string, ttlMs: number, generation: string): Promise<boolean>
  /**
   * Deletes the values and moves the generations, so loads already running cannot store;
   * with a floor, records it first (a load that sees the new generation sees the floor).
   * Returns the keys' new generations, in the order given: a `set` stores under its own, so
   * an invalidation that lands after it is never overwritten.
   */
  invalidate(keys: readonly string[], floor?: Floor): Promise<readonly string[]>
  /** Current tag versions, in the order given; `undefined` for a tag the store does not hold. */
  tagVersions(tags: readonly string[]): Promise<(string | undefined)[]>
  /** Tag versions and floors for a load, creating the versions the store does not hold. */
  snapshotTags(tags: readonly string[]): Promise<Versioned[]>
  /** Moves each tag's version (after recording the floor): entries stored under it become misses. */
  bumpTags(tags: readonly string[], floor?: Floor): Promise<void>
  /**
   * Records `floor` for keys and tags whose floor was lost, keeping the newest, without moving
   * their versions; needed by a store that reports `floorLost`.
   */
  recordFloors?(keys: readonly string[], tags: readonly string[], floor: Floor): Promise<void>
  /** Takes the key's lock for `ttlMs` if it is free; true when `owner` now holds it. */
  tryLock(key: string, owner: string, ttlMs: number): Promise<boolean>
  /** Extends the lock to `ttlMs` from now if `owner` still holds it; true when it did. */
  extendLock(key: string, owner: string, ttlMs: number): Promise<boolean>
  /** Releases the lock if `owner` still holds it; true when it did. */
  unlock(key: string, owner: string): Promise<boolean>
  close(): Promise<void>
}
