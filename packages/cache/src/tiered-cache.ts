import type { ConsistencySource } from '@sluice/core'
import { type Entry, encodeEntry, versionsOf } from './entry.js'
import { CacheError, validateKey } from './errors.js'
import type { CacheEvent } from './events.js'
import type { Invalidation } from './invalidation-bus.js'
import { LocalTier } from './l1/local-tier.js'
import { Loading, type LoadRequest } from './load/loading.js'
import type { ResolvedCacheOptions } from './options/cache-options.js'
import { callDuration, MAX_TTL_MS } from './options/duration.js'
import { callOptions, type LoadOptions, resolveLoadOptions } from './options/load-options.js'
import { type GuardedStore, UNAVAILABLE } from './store/guarded-store.js'
import { within } from './within.js'

interface Flight {
  readonly promise: Promise<unknown>
  readonly tags: readonly string[]
  /** The store after the loader, while it runs: until it settles, callers share the value. */
  storing: Promise<unknown> | undefined
}

/**
 * The cache-aside engine: L1 (lru-cache) in front of a shared store, in-process single-flight,
 * generation-checked stores and versioned tags; loads themselves are {@link Loading}'s.
 */
export class TieredCache {
  readonly #shared: GuardedStore
  readonly #options: ResolvedCacheOptions
  readonly #l1: LocalTier
  readonly #loading: Loading
  readonly #flights = new Map<string, Flight>()
  readonly #refreshing = new Set<string>()
  readonly #announce: (invalidation: Invalidation) => Promise<void> | undefined
  readonly #consistency: ConsistencySource | undefined
  #closed = false

  constructor(
    shared: GuardedStore,
    options: ResolvedCacheOptions,
    consistency: ConsistencySource | undefined,
    announce: (invalidation: Invalidation) => Promise<void> | undefined = () => undefined,
  ) {
    this.#shared = shared
    this.#options = options
    this.#consistency = consistency
    this.#announce = announce
    this.#l1 = new LocalTier(options.l1)
    this.#loading = new Loading(shared, this.#l1, consistency, options, (event) =>
      this.#emit(event),
    )
  }

  async getOrLoad<T>(
    key: string,
    loader: () => Promise<T | undefined>,
    given?: LoadOptions,
  ): Promise<T | undefined> {
    this.#open()
    validateKey(key, 'key')
    const options = callOptions(given, 'options')
    const local = this.#l1.fresh(key)
    if (local) {
      this.#emit({ kind: 'hit', key, tier: 'l1' })
      return local.value as T | undefined
    }
    const flying = this.#flights.get(key)
    if (flying) return flying.promise as Promise<T | undefined>
    if (typeof loader !== 'function') {
      throw new CacheError('CACHE_OPTION_INVALID', 'loader must be a function', { field: 'loader' })
    }
    const tags = validateTags(options.tags)
    let flight: Flight | undefined
    const load = {
      key,
      loader,
      tags,
      options: resolveLoadOptions(options, this.#options),
      storing: (stored: Promise<void>) => {
        const running = flight
        if (!running) return
        const done = () => {
          running.storing = undefined
        }
        running.storing = stored.then(done, done)
      },
    }
    const promise = this.#readOrLoad<T>(load)
    flight = { promise, tags, storing: undefined }
    this.#flights.set(key, flight)
    const current = flight
    const land = () => {
      if (this.#flights.get(key) === current) this.#flights.delete(key)
    }
    const settle = () => (current.storing ? current.storing.then(land) : land())
    promise.then(settle, settle)
    return promise
  }

  /** A fresh value from L1 or the shared store, without loading. */
  async get<T>(key: string): Promise<T | undefined> {
    this.#open()
    validateKey(key, 'key')
    const local = this.#l1.fresh(key)
    if (local) return local.value as T | undefined
    const found = await this.#loading.readShared<T>(key, this.#shared.deadline())
    return found && found.freshUntil > Date.now() ? found.value : undefined
  }

  /**
   * Stores a value as authoritative: it moves the key's generation first (so loads already
   * running cannot overwrite it), then stores under the new generation, so a `delete` that
   * lands in between wins.
   */
  async set<T>(key: string, value: T, given?: Pick<LoadOptions, 'ttlMs' | 'tags'>) {
    this.#open()
    validateKey(key, 'key')
    const options = callOptions(given, 'options')
    const tags = validateTags(options.tags)
    const ttlMs = this.#loading.jittered(
      callDuration(options.ttlMs, 'ttlMs', { min: 1, max: MAX_TTL_MS }, this.#options.defaultTtlMs),
    )
    const deadline = this.#shared.deadline()
    const versions = await this.#shared.snapshotTags(tags, deadline)
    const entry: Entry<T> = {
      value,
      tags: versionsOf(tags, versions === UNAVAILABLE ? [] : versions),
      freshUntil: Date.now() + ttlMs,
    }
    const payload = encodeEntry(entry) // refuses an unserializable value before any change
    await this.#invalidate([key], [], undefined)
    const epoch = this.#l1.epoch
    if (versions === UNAVAILABLE || Buffer.byteLength(payload) > this.#options.maxEntryBytes) return
    const generation = await this.#shared.generation(key)
    if (generation === UNAVAILABLE) return
    const stored = await this.#shared.setIfGeneration(key, payload, ttlMs, generation.version)
    if (stored === true) this.#l1.fill(key, entry, epoch)
  }

  /** Invalidates keys here and in the shared store; loads already running cannot store them. */
  async delete(keys: string | readonly string[]): Promise<void> {
    this.#open()
    if (typeof keys !== 'string' && !Array.isArray(keys)) {
      throw new CacheError('CACHE_KEY_INVALID', 'delete takes a key or an array of keys')
    }
    const valid = (typeof keys === 'string' ? [keys] : keys).map((key) => validateKey(key, 'key'))
    await this.#invalidate(valid, [], await this.#token(false))
  }

  /** Makes every entry loaded under any of the tags a miss, here and in every process. */
  async invalidateTags(tags: readonly string[], afterCommit = false): Promise<void> {
    this.#open()
    const valid = validateTags(tags)
    await this.#invalidate([], valid, await this.#token(afterCommit))
  }

  /**
   * Drops this instance's copies (L1 and running loads) of the keys and of entries under the
   * tags: for local invalidations and for those other instances announce.
   */
  dropLocal({ keys, tags }: Invalidation): void {
    this.#l1.drop(keys, tags)
    for (const key of keys) this.#flights.delete(key)
    if (tags.length === 0) return
    for (const [key, flight] of this.#flights) {
      if (flight.tags.some((tag) => tags.includes(tag))) this.#flights.delete(key)
    }
  }

  /** L1 serves and keeps copies only while `allowed()`. */
  gateL1(allowed: (now: number) => boolean): void {
    this.#l1.gate(allowed)
  }

  clear(): void {
    this.#l1.clear()
    this.#flights.clear()
  }

  /** From now on every call rejects with `CACHE_CLOSED`, and waiting loads stop waiting. */
  close(): void {
    this.#closed = true
    this.#loading.close()
    this.clear()
  }

  async #invalidate(keys: readonly string[], tags: readonly string[], token: string | undefined) {
    const invalidation = { keys, tags }
    this.dropLocal(invalidation)
    const reached = await this.#shared.invalidate(keys, tags, token)
    // Again: a load that began meanwhile may have filled L1 from what the store held before.
    this.dropLocal(invalidation)
    // One the store did not get is announced once it does (the store's `sentLate`): told now,
    // other instances would only reload what the store still holds.
    if (reached) await this.#announce(invalidation)
    this.#emit({ kind: 'invalidation', keys, tags })
  }

  /**
   * The floor an invalidation records: with a consistency source, the session's token (for an
   * explicit call inside a session) or one covering every committed write (it asks the
   * primary); without one, none. A source that cannot answer within `loadTimeoutMs` leaves
   * the invalidation without a floor, reported as an `error` event.
   */
  async #token(afterCommit: boolean): Promise<string | undefined> {
    const consistency = this.#consistency
    if (!consistency) return undefined
    const session = afterCommit ? undefined : consistency.consistencyToken()
    if (session !== undefined) return session
    try {
      return await within(consistency.latestToken(), this.#options.loadTimeoutMs)
    } catch (error) {
      this.#emit({
        kind: 'error',
        source: 'consistency',
        error: new CacheError(
          'CACHE_CONSISTENCY_UNAVAILABLE',
          `No consistency token for an invalidation: ${(error as Error).message}`,
          { cause: error },
        ),
      })
      return undefined
    }
  }

  async #readOrLoad<T>(load: LoadRequest): Promise<T | undefined> {
    const epoch = this.#l1.epoch
    const deadline = this.#shared.deadline()
    const found = await this.#loading.readShared<T>(load.key, deadline)
    if (found) {
      this.#l1.fill(load.key, found, epoch)
      if (found.freshUntil > Date.now()) {
        this.#emit({ kind: 'hit', key: load.key, tier: 'l2' })
        return found.value
      }
      this.#emit({ kind: 'stale-served', key: load.key, tier: 'l2' })
      this.#refresh(load)
      return found.value
    }
    this.#emit({ kind: 'miss', key: load.key })
    return this.#loading.load(load, epoch, deadline) as Promise<T | undefined>
  }

  #refresh(load: LoadRequest) {
    if (this.#refreshing.has(load.key)) return
    this.#refreshing.add(load.key)
    this.#loading
      .load(load, this.#l1.epoch, this.#shared.deadline())
      .catch((error: unknown) =>
        this.#emit({
          kind: 'error',
          source: 'refresh',
          key: load.key,
          error:
            error instanceof CacheError
              ? error
              : new CacheError('CACHE_STORE_UNAVAILABLE', `A refresh failed: ${error}`, {
                  cause: error,
                }),
        }),
      )
      .finally(() => this.#refreshing.delete(load.key))
  }

  #open(): void {
    if (this.#closed) throw new CacheError('CACHE_CLOSED', 'The cache was closed')
  }

  #emit(event: CacheEvent): void {
    this.#options.hooks?.onCache?.(event)
  }
}

function validateTags(tags: readonly string[] | undefined): readonly string[] {
  if (tags === undefined) return []
  if (!Array.isArray(tags)) {
    throw new CacheError('CACHE_OPTION_INVALID', 'tags must be an array of strings', {
      field: 'tags',
    })
  }
  return tags.map((tag) => validateKey(tag, 'tag'))
}
