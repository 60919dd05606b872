import { randomUUID } from 'node:crypto'
import { setTimeout as delay } from 'node:timers/promises'
import { decodeEntry, type Entry, encodeEntry } from './entry.js'
import { validateKey } from './errors.js'
import type { CacheEvent } from './events.js'
import { type GuardedStore, UNAVAILABLE } from './guarded-store.js'
import type { Invalidation } from './invalidation-bus.js'
import { LocalTier } from './local-tier.js'
import type { ResolvedCacheOptions } from './options.js'

/** Options of one `getOrLoad`. */
export interface LoadOptions {
  /** Default: the cache's `defaultTtlMs`. */
  readonly ttlMs?: number
  /** Invalidating any of these tags makes the entry a miss. */
  readonly tags?: readonly string[]
  /** After the TTL, serve the old value this much longer while one caller refreshes it. Default 0. */
  readonly graceMs?: number
  /** Cache a loader's `undefined` ("not found") this long. Default 0: not cached. */
  readonly negativeTtlMs?: number
  /** Overrides the cache's `lockTimeoutMs` for this key. */
  readonly lockTimeoutMs?: number
}

const WAIT_POLL_MS = 20

type LockOutcome<T> = { kind: 'locked' | 'unlocked' } | { kind: 'value'; value: T | undefined }

interface Flight {
  readonly promise: Promise<unknown>
  readonly tags: readonly string[]
}

/**
 * The cache-aside engine: L1 (lru-cache) in front of a shared store, in-process single-flight,
 * a cross-process lock, generation-checked stores and versioned tags.
 */
export class TieredCache {
  readonly #shared: GuardedStore
  readonly #options: ResolvedCacheOptions
  readonly #l1: LocalTier
  readonly #flights = new Map<string, Flight>()
  readonly #refreshing = new Set<string>()
  readonly #announce: (invalidation: Invalidation) => void

  constructor(
    shared: GuardedStore,
    options: ResolvedCacheOptions,
    announce: (invalidation: Invalidation) => void = () => {},
  ) {
    this.#shared = shared
    this.#options = options
    this.#announce = announce
    this.#l1 = new LocalTier(options.l1)
  }

  async getOrLoad<T>(
    key: string,
    loader: () => Promise<T | undefined>,
    options: LoadOptions = {},
  ): Promise<T | undefined> {
    validateKey(key, 'key')
    const tags = (options.tags ?? []).map((tag) => validateKey(tag, 'tag'))
    const local = this.#l1.fresh(key)
    if (local) {
      this.#emit({ kind: 'hit', key, tier: 'l1' })
      return local.value as T | undefined
    }
    const flying = this.#flights.get(key)
    if (flying) return flying.promise as Promise<T | undefined>
    const promise = this.#readOrLoad(key, loader, tags, options)
    const flight: Flight = { promise, tags }
    this.#flights.set(key, flight)
    const land = () => {
      if (this.#flights.get(key) === flight) this.#flights.delete(key)
    }
    promise.then(land, land)
    return promise
  }

  /** A fresh value from L1 or the shared store, without loading. */
  async get<T>(key: string): Promise<T | undefined> {
    validateKey(key, 'key')
    const local = this.#l1.fresh(key)
    if (local) return local.value as T | undefined
    const found = await this.#readShared<T>(key)
    return found && found.freshUntil > Date.now() ? found.value : undefined
  }

  /** Stores a value as authoritative: loads already running for the key cannot overwrite it. */
  async set<T>(key: string, value: T, options: Pick<LoadOptions, 'ttlMs' | 'tags'> = {}) {
    validateKey(key, 'key')
    const tags = (options.tags ?? []).map((tag) => validateKey(tag, 'tag'))
    const versions = await this.#shared.tagVersions(tags)
    const ttl = this.#ttl(options.ttlMs ?? this.#options.defaultTtlMs)
    const entry = this.#entry(value, tags, versions === UNAVAILABLE ? [] : versions, ttl)
    const payload = encodeEntry(entry) // refuses an unserializable value before any change
    await this.delete([key]) // moves the generation: running loads can no longer store
    const epoch = this.#l1.epoch
    const bytes = Buffer.byteLength(payload)
    if (versions === UNAVAILABLE || bytes > this.#options.maxEntryBytes) return
    await this.#shared.set(key, payload, ttl)
    this.#l1.fill(key, entry, epoch, bytes)
  }

  /** Invalidates keys here and in the shared store; loads already running cannot store them. */
  async delete(keys: readonly string[]): Promise<void> {
    const valid = keys.map((key) => validateKey(key, 'key'))
    this.dropLocal({ keys: valid, tags: [] })
    await this.#shared.invalidate(valid, [])
    this.#announce({ keys: valid, tags: [] })
    this.#emit({ kind: 'invalidation', key: valid.join(',') })
  }

  /** Makes every entry loaded under any of the tags a miss, here and in every process. */
  async invalidateTags(tags: readonly string[]): Promise<void> {
    const valid = tags.map((tag) => validateKey(tag, 'tag'))
    this.dropLocal({ keys: [], tags: valid })
    await this.#shared.invalidate([], valid)
    this.#announce({ keys: [], tags: valid })
    this.#emit({ kind: 'invalidation', tags: valid })
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

  clear(): void {
    this.#l1.clear()
    this.#flights.clear()
  }

  async #readOrLoad<T>(
    key: string,
    loader: () => Promise<T | undefined>,
    tags: readonly string[],
    options: LoadOptions,
  ): Promise<T | undefined> {
    const epoch = this.#l1.epoch
    const found = await this.#readShared<T>(key)
    if (found) {
      this.#l1.fill(key, found, epoch, found.bytes ?? 0)
      if (found.freshUntil > Date.now()) {
        this.#emit({ kind: 'hit', key, tier: 'l2' })
        return found.value
      }
      this.#emit({ kind: 'stale-served', key, tier: 'l2' })
      this.#refresh(key, loader, tags, options)
      return found.value
    }
    this.#emit({ kind: 'miss', key })
    return this.#load(key, loader, tags, options, epoch)
  }

  #refresh<T>(
    key: string,
    loader: () => Promise<T | undefined>,
    tags: readonly string[],
    options: LoadOptions,
  ) {
    if (this.#refreshing.has(key)) return
    this.#refreshing.add(key)
    this.#load(key, loader, tags, options, this.#l1.epoch)
      .catch((error: unknown) => this.#emit({ kind: 'error', key, error }))
      .finally(() => this.#refreshing.delete(key))
  }

  async #load<T>(
    key: string,
    loader: () => Promise<T | undefined>,
    tags: readonly string[],
    options: LoadOptions,
    epoch: number,
  ): Promise<T | undefined> {
    // Snapshot what the value will be checked against before the loader reads anything.
    const [generation, versions] = await Promise.all([
      this.#shared.generation(key),
      this.#shared.tagVersions(tags),
    ])
    const lockMs = options.lockTimeoutMs ?? this.#options.lockTimeoutMs
    const owner = randomUUID()
    const lock = await this.#lockOrWait<T>(key, owner, lockMs)
    if (lock.kind === 'value') return lock.value
    const started = performance.now()
    try {
      const value = await loader()
      const ttlMs = value === undefined ? options.negativeTtlMs : options.ttlMs
      const reason =
        value === undefined && !ttlMs
          ? 'not-found'
          : generation === UNAVAILABLE || versions === UNAVAILABLE
            ? 'store-unavailable'
            : await this.#store(key, value, tags, versions, generation, {
                ttlMs: ttlMs ?? this.#options.defaultTtlMs,
                graceMs: options.graceMs ?? 0,
                epoch,
              })
      const durationMs = performance.now() - started
      const stored = reason === undefined
      this.#emit({ kind: 'load', key, durationMs, stored, ...(stored ? {} : { reason }) })
      return value
    } finally {
      if (lock.kind === 'locked') await this.#shared.unlock(key, owner)
    }
  }

  /** Stores a loaded value if its generation did not move; why not, if it was not stored. */
  async #store<T>(
    key: string,
    value: T | undefined,
    tags: readonly string[],
    versions: readonly number[],
    generation: number,
    { ttlMs, graceMs, epoch }: { ttlMs: number; graceMs: number; epoch: number },
  ): Promise<'invalidated' | 'too-large' | 'store-unavailable' | undefined> {
    const ttl = this.#ttl(ttlMs)
    const entry = this.#entry(value, tags, versions, ttl)
    const payload = encodeEntry(entry)
    const bytes = Buffer.byteLength(payload)
    if (bytes > this.#options.maxEntryBytes) return 'too-large'
    const result = await this.#shared.setIfGeneration(key, payload, ttl + graceMs, generation)
    if (result === UNAVAILABLE) return 'store-unavailable'
    if (!result) return 'invalidated'
    this.#l1.fill(key, entry, epoch, bytes)
    return undefined
  }

  /**
   * Takes the key's cross-process lock, or waits for its holder's value. A caller that gets
   * the lock checks the store once more: a holder that finished between this caller's miss
   * and its lock has stored the value, and loading it again would be a wasted load.
   */
  async #lockOrWait<T>(key: string, owner: string, lockMs: number): Promise<LockOutcome<T>> {
    const first = await this.#tryLock<T>(key, owner, lockMs)
    if (first) return first
    const started = performance.now()
    // The holder stores its value, or dies and its lock expires after lockMs; then another
    // waiter may take the lock and load. Waiting ends, at the latest, once a second holder's
    // lock could have expired too: then this caller loads without the lock.
    const deadline = Date.now() + 2 * lockMs + WAIT_POLL_MS * 10
    try {
      while (Date.now() < deadline) {
        await delay(WAIT_POLL_MS)
        const found = await this.#readShared<T>(key)
        if (found && found.freshUntil > Date.now()) return { kind: 'value', value: found.value }
        const retry = await this.#tryLock<T>(key, owner, lockMs)
        if (retry) return retry
      }
      return { kind: 'unlocked' }
    } finally {
      this.#emit({ kind: 'lock-wait', key, durationMs: performance.now() - started })
    }
  }

  /** The lock (or, without a store, no lock); `undefined` while another caller holds it. */
  async #tryLock<T>(
    key: string,
    owner: string,
    lockMs: number,
  ): Promise<LockOutcome<T> | undefined> {
    const locked = await this.#shared.tryLock(key, owner, lockMs)
    if (locked === UNAVAILABLE) return { kind: 'unlocked' }
    if (!locked) return undefined
    const found = await this.#readShared<T>(key)
    if (!found || found.freshUntil <= Date.now()) return { kind: 'locked' }
    await this.#shared.unlock(key, owner)
    return { kind: 'value', value: found.value }
  }

  async #readShared<T>(key: string): Promise<Entry<T> | undefined> {
    const payload = await this.#shared.get(key)
    if (payload === UNAVAILABLE || payload === undefined) return undefined
    const entry = decodeEntry<T>(payload)
    if (!entry) return undefined
    const names = Object.keys(entry.tags)
    if (names.length === 0) return entry
    const current = await this.#shared.tagVersions(names)
    if (current === UNAVAILABLE) return undefined
    const outdated = names.some((name, i) => (current[i] ?? 0) !== entry.tags[name])
    return outdated ? undefined : entry
  }

  #entry<T>(
    value: T | undefined,
    tags: readonly string[],
    versions: readonly number[],
    ttlMs: number,
  ): Entry<T> {
    return {
      value,
      tags: Object.fromEntries(tags.map((tag, i) => [tag, versions[i] ?? 0])),
      freshUntil: Date.now() + ttlMs,
    }
  }

  /** A TTL with jitter: up to `jitter` of it either way. */
  #ttl(ttlMs: number): number {
    const spread = ttlMs * this.#options.jitter
    return Math.max(1, Math.round(ttlMs + (Math.random() * 2 - 1) * spread))
  }

  #emit(event: CacheEvent): void {
    this.#options.hooks?.onCache?.(event)
  }
}
