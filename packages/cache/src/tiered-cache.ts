import type { CommittedWrite, ConsistencySource } from '@sluice/core'
import { withDeadline } from '@sluice/core/internal'
import { type Entry, encodeEntry, versionsOf } from './entry.js'
import { CacheError, validateKey } from './errors.js'
import type { CacheEvent, CacheEvents } from './events.js'
import type { Invalidation } from './invalidation-bus.js'
import { LocalTier } from './l1/local-tier.js'
import { Loading, type LoadRequest } from './load/loading.js'
import type { ResolvedCacheOptions } from './options/cache-options.js'
import { callDuration, TTL_DURATION } from './options/duration.js'
import {
  callOptions,
  LOAD_OPTIONS,
  type LoadOptions,
  resolveLoadOptions,
} from './options/load-options.js'
import { type Generations, type GuardedStore, UNAVAILABLE } from './store/guarded-store.js'

const SET_OPTIONS = new Set(['ttlMs', 'tags'])

interface Flight {
  promise: Promise<unknown>
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
  /** The cache events: the L1 hit path builds no event while nobody listens. */
  readonly #onCache: CacheEvents['onCache']
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
    this.#onCache = options.events.onCache
    this.#l1 = new LocalTier(options.l1)
    this.#loading = new Loading(shared, this.#l1, consistency, options, (event) =>
      this.#emit(event),
    )
  }

  /** L1, else the load of the key already running here, else a new flight (see {@link #fly}). */
  async getOrLoad<T>(
    key: string,
    loader: () => Promise<T | undefined>,
    given?: LoadOptions,
  ): Promise<T | undefined> {
    this.#open()
    validateKey(key, 'key')
    const options = callOptions(given, 'options', LOAD_OPTIONS)
    const local = this.#l1.fresh(key)
    if (local) {
      this.#onCache.emit?.({ kind: 'hit', key, tier: 'l1' })
      return local.value as T | undefined
    }
    const flying = this.#flights.get(key)
    if (flying) return flying.promise as Promise<T | undefined>
    return this.#fly(this.#request(key, loader, options))
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
   * running cannot overwrite it), then stores under the generation its own move left (never
   * one read afterwards), so a `delete` that lands in between wins. Like a `delete`, it
   * records a consistency floor ({@link floor}'s): the reload after the entry expires or is
   * evicted reads at least the write the value came from.
   */
  async set<T>(key: string, value: T, given?: Pick<LoadOptions, 'ttlMs' | 'tags'>) {
    const store = await this.prepareSet(key, value, given)
    await store(this.floor())
  }

  /**
   * A `set`'s checks (key, options, tags, the value serializable), with nothing changed yet;
   * the function it resolves to does the `set`, with the floor given. `warm` checks every entry
   * before it stores any.
   */
  async prepareSet<T>(
    key: string,
    value: T,
    given?: Pick<LoadOptions, 'ttlMs' | 'tags'>,
  ): Promise<(floor: Promise<string | undefined>) => Promise<void>> {
    this.#open()
    validateKey(key, 'key')
    const options = callOptions(given, 'options', SET_OPTIONS)
    const tags = validateTags(options.tags)
    const ttlMs = this.#loading.jittered(
      callDuration(options.ttlMs, 'ttlMs', TTL_DURATION, this.#options.defaultTtlMs),
    )
    const deadline = this.#shared.deadline()
    const versions = await this.#shared.snapshotTags(tags, deadline)
    const entry: Entry<T> = {
      value,
      tags: versionsOf(tags, versions === UNAVAILABLE ? [] : versions),
      freshUntil: Date.now() + ttlMs,
    }
    const payload = encodeEntry(entry) // refuses an unserializable value before any change
    return async (floor) => {
      this.#open()
      const generation = (await this.#invalidate([key], [], await floor))?.get(key)
      const epoch = this.#l1.epoch
      if (versions === UNAVAILABLE || Buffer.byteLength(payload) > this.#options.maxEntryBytes)
        return
      if (generation === undefined) return
      const stored = await this.#shared.setIfGeneration(key, payload, ttlMs, generation)
      if (stored === true) this.#l1.fill(key, entry, epoch)
    }
  }

  /**
   * The floor a `delete`, `set` or `warm` outside a commit records (see {@link #token}); one
   * for all the entries of a `warm`.
   */
  floor(): Promise<string | undefined> {
    return this.#token(undefined)
  }

  /** Invalidates keys here and in the shared store; loads already running cannot store them. */
  async delete(keys: string | readonly string[]): Promise<void> {
    this.#open()
    if (typeof keys !== 'string' && !Array.isArray(keys)) {
      throw new CacheError('CACHE_KEY_INVALID', 'delete takes a key or an array of keys')
    }
    const valid = (typeof keys === 'string' ? [keys] : keys).map((key) => validateKey(key, 'key'))
    await this.#invalidate(valid, [], await this.floor())
  }

  /**
   * Makes every entry loaded under any of the tags a miss, here and in every process; `commit`
   * when a commit invalidates them (`afterCommit`), with its token if the database knew it.
   */
  async invalidateTags(tags: readonly string[], commit?: CommittedWrite): Promise<void> {
    this.#open()
    const valid = validateTags(tags)
    await this.#invalidate([], valid, await this.#token(commit))
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

  /** Invalidates here and in the store; the keys' new generations once the store has them. */
  async #invalidate(
    keys: readonly string[],
    tags: readonly string[],
    token: string | undefined,
  ): Promise<Generations | undefined> {
    const invalidation = { keys, tags }
    this.dropLocal(invalidation)
    const reached = await this.#shared.invalidate(keys, tags, token)
    // Again: a load that began meanwhile may have filled L1 from what the store held before.
    this.dropLocal(invalidation)
    // One the store did not get is announced once it does (the store's `sentLate`): told now,
    // other instances would only reload what the store still holds.
    if (reached) await this.#announce(invalidation)
    this.#emit({ kind: 'invalidation', keys, tags })
    return reached
  }

  /**
   * The floor an invalidation records, with a consistency source (without one, none): the
   * commit's own token (`afterCommit`: read on the committing connection before its release,
   * so a full pool cannot hold it up; inside a read-your-writes scope the one the router read
   * anyway), the session's token (an explicit call inside a session), else one covering every
   * committed write (it asks the primary). A source that cannot answer within `loadTimeoutMs`
   * leaves the invalidation without a floor, reported as an `error` event.
   */
  async #token(commit: CommittedWrite | undefined): Promise<string | undefined> {
    const consistency = this.#consistency
    if (!consistency) return undefined
    // After a commit, the session's token may predate it: only the commit's own token will do.
    const known = commit ? await this.#commitToken(commit) : consistency.consistencyToken()
    if (known !== undefined) return known
    try {
      return await withDeadline(consistency.latestToken(), this.#options.loadTimeoutMs, () => {
        throw new Error(`the primary did not answer within ${this.#options.loadTimeoutMs} ms`)
      })
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

  /** The commit's token, within `loadTimeoutMs` (on a connection its pool may destroy late). */
  #commitToken(commit: CommittedWrite): Promise<string | undefined> {
    return withDeadline(commit.token(), this.#options.loadTimeoutMs, () => undefined).catch(
      () => undefined,
    )
  }

  /** One call's load: what to load, under which tags and options, from which epoch and deadline. */
  #request<T>(
    key: string,
    loader: () => Promise<T | undefined>,
    options: LoadOptions,
  ): LoadRequest<T> {
    if (typeof loader !== 'function') {
      throw new CacheError('CACHE_OPTION_INVALID', 'loader must be a function', {
        context: { field: 'loader' },
      })
    }
    return {
      key,
      loader,
      tags: validateTags(options.tags),
      options: resolveLoadOptions(options, this.#options),
      epoch: this.#l1.epoch,
      deadline: this.#shared.deadline(),
    }
  }

  /**
   * Runs a request as its key's flight: callers of the key that arrive meanwhile share its
   * promise, and keep sharing it until the value the loader returned is stored (or refused).
   */
  #fly<T>(request: LoadRequest<T>): Promise<T | undefined> {
    const flight: Flight = { promise: Promise.resolve(), tags: request.tags, storing: undefined }
    const storing = (stored: Promise<void>) => {
      const done = () => {
        flight.storing = undefined
      }
      flight.storing = stored.then(done, done)
    }
    const promise = this.#readOrLoad({ ...request, storing })
    flight.promise = promise
    this.#flights.set(request.key, flight)
    const land = () => {
      if (this.#flights.get(request.key) === flight) this.#flights.delete(request.key)
    }
    const settle = () => (flight.storing ? flight.storing.then(land) : land())
    promise.then(settle, settle)
    return promise
  }

  /** The shared store's value (fresh, or stale under grace while a refresh runs), else a load. */
  async #readOrLoad<T>(request: LoadRequest<T>): Promise<T | undefined> {
    const { key } = request
    const found = await this.#loading.readShared<T>(key, request.deadline)
    if (!found) {
      this.#emit({ kind: 'miss', key })
      return this.#loading.load(request)
    }
    this.#l1.fill(key, found, request.epoch)
    if (found.freshUntil > Date.now()) {
      this.#emit({ kind: 'hit', key, tier: 'l2' })
      return found.value
    }
    this.#emit({ kind: 'stale-served', key, tier: 'l2' })
    this.#refresh(request)
    return found.value
  }

  /** Reloads a stale key in the background, once at a time per key; its failure is an event. */
  #refresh(request: LoadRequest) {
    const { key } = request
    if (this.#refreshing.has(key)) return
    this.#refreshing.add(key)
    this.#loading
      .load({ ...request, epoch: this.#l1.epoch, deadline: this.#shared.deadline() })
      .catch((error: unknown) =>
        this.#emit({
          kind: 'error',
          source: 'refresh',
          key,
          error:
            error instanceof CacheError
              ? error
              : new CacheError('CACHE_STORE_UNAVAILABLE', `A refresh failed: ${error}`, {
                  cause: error,
                }),
        }),
      )
      .finally(() => this.#refreshing.delete(key))
  }

  #open(): void {
    if (this.#closed) throw new CacheError('CACHE_CLOSED', 'The cache was closed')
  }

  #emit(event: CacheEvent): void {
    this.#onCache.emit?.(event)
  }
}

function validateTags(tags: readonly string[] | undefined): readonly string[] {
  if (tags === undefined) return []
  if (!Array.isArray(tags)) {
    throw new CacheError('CACHE_OPTION_INVALID', 'tags must be an array of strings', {
      context: { field: 'tags' },
    })
  }
  return tags.map((tag) => validateKey(tag, 'tag'))
}
