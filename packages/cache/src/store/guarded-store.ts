import { withDeadline } from '@sluice/core/internal'
import { storeError, storeTimeout } from '../errors.js'
import type { CacheEvent } from '../events.js'
import type { CacheStore, Floor, Versioned } from './cache-store.js'
import { CircuitBreaker } from './circuit-breaker.js'
import { type InvalidationBatch, PendingInvalidations } from './pending-invalidations.js'

/**
 * The generations an invalidation batch left its keys at, by key: what a `set` stores under
 * (read afterwards, the generation may already be a later invalidation's).
 */
export type Generations = ReadonlyMap<string, string>
const NONE: Generations = new Map()

/** Marks a store call that failed, timed out, or was skipped by the open breaker. */
export const UNAVAILABLE = Symbol('store unavailable')
export type Maybe<T> = T | typeof UNAVAILABLE

/** First retry of invalidations that could not be sent; doubled up to {@link MAX_RETRY_MS}. */
const FIRST_RETRY_MS = 50
/** Invalidations that could not be sent are retried at least this often while Redis is away. */
export const MAX_RETRY_MS = 2000

/** What `cache.health()` reports about the shared store. */
export interface StoreHealth {
  /** `memory`, `redis`, or a custom store's name. */
  readonly store: string
  /** Whether the store answered a probe within `storeTimeoutMs`. */
  readonly reachable: boolean
  /** How long the probe took (ms), when it answered. */
  readonly latencyMs: number | undefined
  readonly breaker: 'closed' | 'open' | 'half-open'
  /** Invalidations (keys and tags) waiting to be sent. */
  readonly pendingInvalidations: number
  /** Why the probe failed (a message without credentials), when it did. */
  readonly error: string | undefined
}

/**
 * The shared store as the cache uses it: every call is bounded by `timeoutMs`, failures open
 * a circuit breaker, and a failed call yields {@link UNAVAILABLE} instead of throwing, so that
 * Redis trouble degrades the cache and never fails a request. Invalidations that could not be
 * recorded are kept, retried on a timer with backoff (at least every {@link MAX_RETRY_MS}),
 * sent before any other call reaches the store again, and flushed by `close()`.
 */
export class GuardedStore {
  readonly store: CacheStore
  readonly #breaker: CircuitBreaker
  readonly #timeoutMs: number
  readonly #maxPayloadBytes: number | undefined
  readonly #report: (event: CacheEvent) => void
  readonly #pending: PendingInvalidations
  #flushing: Promise<Generations | undefined> | undefined
  #retry: NodeJS.Timeout | undefined
  #retryMs = FIRST_RETRY_MS
  #closed = false
  readonly #sentLate: (batch: InvalidationBatch) => void
  /** Keys and tags of batches that failed once: when they go out, they are announced. */
  #late = false

  constructor(
    store: CacheStore,
    options: {
      timeoutMs: number
      failureThreshold: number
      openMs: number
      newest: Floor['newest'] | undefined
      /** Payloads over this many bytes are not fetched (`maxEntryBytes`: none is stored). */
      maxPayloadBytes?: number
    },
    report: (event: CacheEvent) => void,
    /** Told of invalidations sent late (by the retry timer, a later call or `close()`). */
    sentLate: (batch: InvalidationBatch) => void = () => {},
  ) {
    this.#sentLate = sentLate
    this.store = store
    this.#timeoutMs = options.timeoutMs
    this.#maxPayloadBytes = options.maxPayloadBytes
    this.#breaker = new CircuitBreaker(options)
    this.#report = report
    this.#pending = new PendingInvalidations(options.newest)
  }

  get breakerState(): 'closed' | 'open' | 'half-open' {
    return this.#breaker.state
  }

  // Each call takes the deadline of the request it serves (epoch ms): a call never waits past
  // it, so a request's waits on the store add up to one `timeoutMs` at most.

  get(key: string, deadline?: number): Promise<Maybe<string | undefined>> {
    return this.#call((s) => s.get(key, this.#maxPayloadBytes), deadline)
  }

  generation(key: string, deadline?: number): Promise<Maybe<Versioned>> {
    return this.#call((s) => s.generation(key), deadline)
  }

  tagVersions(tags: readonly string[], deadline?: number): Promise<Maybe<(string | undefined)[]>> {
    if (tags.length === 0) return Promise.resolve([])
    return this.#call((s) => s.tagVersions(tags), deadline)
  }

  snapshotTags(tags: readonly string[], deadline?: number): Promise<Maybe<Versioned[]>> {
    if (tags.length === 0) return Promise.resolve([])
    return this.#call((s) => s.snapshotTags(tags), deadline)
  }

  setIfGeneration(key: string, payload: string, ttlMs: number, generation: string) {
    return this.#call((s) => s.setIfGeneration(key, payload, ttlMs, generation))
  }

  tryLock(key: string, owner: string, ttlMs: number, deadline?: number): Promise<Maybe<boolean>> {
    return this.#call((s) => s.tryLock(key, owner, ttlMs), deadline)
  }

  /**
   * Records a load's token as the floor where the store lost it (see `CacheStore.recordFloors`)
   * or held an unknown floor the load saw (`seen`).
   */
  recordFloors(
    keys: readonly string[],
    tags: readonly string[],
    token: string,
    seen?: ReadonlySet<string>,
  ): Promise<Maybe<void>> {
    const floor = this.#pending.floor(token, seen)
    if (!floor || keys.length + tags.length === 0) return Promise.resolve(undefined)
    return this.#call(async (s) => {
      await s.recordFloors?.(keys, tags, floor)
    })
  }

  /** A deadline `timeoutMs` from now, for the store calls of one request. */
  deadline(): number {
    return Date.now() + this.#timeoutMs
  }

  extendLock(key: string, owner: string, ttlMs: number): Promise<Maybe<boolean>> {
    return this.#call((s) => s.extendLock(key, owner, ttlMs))
  }

  unlock(key: string, owner: string): Promise<Maybe<boolean>> {
    return this.#call((s) => s.unlock(key, owner))
  }

  /**
   * Invalidates keys and bumps tags, recording `token` as their floor; what cannot be sent
   * now is retried on a timer and before the next store call. Once it reached the store, the
   * new generations of the keys of the batch it went in (see {@link Generations}); else
   * `undefined`.
   */
  async invalidate(
    keys: readonly string[],
    tags: readonly string[],
    token: string | undefined,
  ): Promise<Generations | undefined> {
    this.#pending.add(keys, tags, token)
    await this.#flushing // one that began before these were added does not carry them
    return this.#flush()
  }

  /** Probes the store (past the breaker, so that it tells the truth). */
  async health(probeKey: string): Promise<StoreHealth> {
    const started = performance.now()
    let error: string | undefined
    try {
      await withDeadline(this.store.get(probeKey), this.#timeoutMs, () => {
        throw storeTimeout(this.#timeoutMs)
      })
    } catch (caught) {
      error = storeError(caught).message
    }
    return {
      store: this.store.name,
      reachable: error === undefined,
      latencyMs: error === undefined ? performance.now() - started : undefined,
      breaker: this.breakerState,
      pendingInvalidations: this.#pending.size,
      error,
    }
  }

  /**
   * Sends what is pending, retrying until it is sent or `timeoutMs` has passed; then stops the
   * retry timer. True when nothing was left unsent.
   */
  async close(timeoutMs: number): Promise<boolean> {
    this.#closed = true
    const deadline = Date.now() + timeoutMs
    clearTimeout(this.#retry)
    this.#retry = undefined
    let sent = await this.#flush()
    while (!sent && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(100, deadline - Date.now())))
      sent = await this.#flush(true)
    }
    clearTimeout(this.#retry)
    this.#retry = undefined
    return sent !== undefined
  }

  /**
   * Sends the pending invalidations (joining a send under way: with nothing pending, the one
   * that may carry the caller's); the batch's generations once they reached the store
   * (invalidations added meanwhile go out with the next send), `undefined` when they did not.
   */
  #flush(pastBreaker = false): Promise<Generations | undefined> {
    if (this.#pending.size === 0) return this.#flushing ?? Promise.resolve(NONE)
    this.#flushing ??= this.#send(pastBreaker).finally(() => {
      this.#flushing = undefined
    })
    return this.#flushing
  }

  async #send(pastBreaker: boolean): Promise<Generations | undefined> {
    const batch = this.#pending.take()
    const floor = this.#pending.floor(batch.token)
    const done = await this.#call(
      async (s) => {
        const [generations] = await Promise.all([
          batch.keys.length > 0 ? s.invalidate(batch.keys, floor) : [],
          batch.tags.length > 0 && s.bumpTags(batch.tags, floor),
        ])
        return new Map(batch.keys.map((key, i) => [key, generations[i] as string]))
      },
      undefined,
      { flush: false, pastBreaker },
    )
    if (done === UNAVAILABLE) {
      this.#pending.putBack(batch)
      this.#late = true
      this.#scheduleRetry()
      return undefined
    }
    if (this.#late) {
      this.#late = false
      this.#sentLate(batch)
    }
    this.#retryMs = FIRST_RETRY_MS
    return done
  }

  #scheduleRetry(): void {
    if (this.#retry) return
    this.#retry = setTimeout(() => {
      this.#retry = undefined
      void this.#flush(true)
    }, this.#retryMs)
    this.#retry.unref()
    this.#retryMs = Math.min(this.#retryMs * 2, MAX_RETRY_MS)
  }

  async #call<T>(
    operation: (store: CacheStore) => Promise<T>,
    deadline?: number,
    { flush = true, pastBreaker = false } = {},
  ): Promise<Maybe<T>> {
    if (this.#closed && flush) return UNAVAILABLE
    // Invalidations that could not be sent go first: until they are in, the store may hold
    // values they remove, so nothing is read from it or written to it.
    if (flush && this.#pending.size > 0 && !(await this.#flush())) return UNAVAILABLE
    const timeoutMs =
      deadline === undefined ? this.#timeoutMs : Math.min(this.#timeoutMs, deadline - Date.now())
    if (timeoutMs <= 0) return UNAVAILABLE
    if (!pastBreaker && !this.#breaker.allows()) return UNAVAILABLE
    let timedOut = false
    try {
      const result = await withDeadline(operation(this.store), timeoutMs, () => {
        timedOut = true
        throw storeTimeout(timeoutMs)
      })
      this.#breaker.succeeded()
      return result
    } catch (error) {
      // An error the store raised counts towards opening the breaker, and so does a timeout
      // of a call that had at least half of `timeoutMs`. A call its request's earlier calls
      // left less says less about the store. (Judged with that margin, not "the whole
      // timeout": a loaded process spends milliseconds between a request's deadline and its
      // first call, and a frozen Redis must still open the breaker.)
      if (!timedOut || timeoutMs >= this.#timeoutMs / 2) this.#breaker.failed()
      else this.#breaker.released()
      this.#report({ kind: 'error', source: 'store', error: storeError(error) })
      return UNAVAILABLE
    }
  }
}
