import type { CacheStore } from './cache-store.js'
import { CircuitBreaker } from './circuit-breaker.js'
import { storeError } from './errors.js'
import type { CacheEvent } from './events.js'
import { within } from './within.js'

/** Marks a store call that failed, timed out, or was skipped by the open breaker. */
export const UNAVAILABLE = Symbol('store unavailable')
type Maybe<T> = T | typeof UNAVAILABLE

/**
 * The shared store as the cache uses it: every call is bounded by `timeoutMs`, failures open
 * a circuit breaker, and a failed call yields {@link UNAVAILABLE} instead of throwing, so that
 * Redis trouble degrades the cache and never fails a request. Invalidations that could not be
 * recorded are kept and sent before any other call reaches the store again.
 */
export class GuardedStore {
  readonly store: CacheStore
  readonly #breaker: CircuitBreaker
  readonly #timeoutMs: number
  readonly #report: (event: CacheEvent) => void
  readonly #pendingKeys = new Set<string>()
  readonly #pendingTags = new Set<string>()
  #flushing: Promise<boolean> | undefined

  constructor(
    store: CacheStore,
    options: { timeoutMs: number; failureThreshold: number; openMs: number },
    report: (event: CacheEvent) => void,
  ) {
    this.store = store
    this.#timeoutMs = options.timeoutMs
    this.#breaker = new CircuitBreaker(options)
    this.#report = report
  }

  get breakerState(): 'closed' | 'open' | 'half-open' {
    return this.#breaker.state
  }

  get(key: string): Promise<Maybe<string | undefined>> {
    return this.#call((s) => s.get(key))
  }

  generation(key: string): Promise<Maybe<number>> {
    return this.#call((s) => s.generation(key))
  }

  tagVersions(tags: readonly string[]): Promise<Maybe<number[]>> {
    if (tags.length === 0) return Promise.resolve([])
    return this.#call((s) => s.tagVersions(tags))
  }

  setIfGeneration(key: string, payload: string, ttlMs: number, generation: number) {
    return this.#call((s) => s.setIfGeneration(key, payload, ttlMs, generation))
  }

  set(key: string, payload: string, ttlMs: number): Promise<Maybe<void>> {
    return this.#call((s) => s.set(key, payload, ttlMs))
  }

  tryLock(key: string, owner: string, ttlMs: number): Promise<Maybe<boolean>> {
    return this.#call((s) => s.tryLock(key, owner, ttlMs))
  }

  unlock(key: string, owner: string): Promise<Maybe<boolean>> {
    return this.#call((s) => s.unlock(key, owner))
  }

  /** Invalidates keys and bumps tags; what fails now is retried before the next store call. */
  async invalidate(keys: readonly string[], tags: readonly string[]): Promise<void> {
    for (const key of keys) this.#pendingKeys.add(key)
    for (const tag of tags) this.#pendingTags.add(tag)
    await this.#flushing // one that began before these were added does not carry them
    await this.#flush()
  }

  /** Sends the pending invalidations (joining a send under way); true once none is left. */
  #flush(): Promise<boolean> {
    if (!this.#hasPending()) return Promise.resolve(true)
    this.#flushing ??= this.#send().finally(() => {
      this.#flushing = undefined
    })
    return this.#flushing
  }

  #hasPending(): boolean {
    return this.#pendingKeys.size > 0 || this.#pendingTags.size > 0
  }

  async #send(): Promise<boolean> {
    const keys = [...this.#pendingKeys]
    const tags = [...this.#pendingTags]
    const done = await this.#call(async (s) => {
      await Promise.all([
        keys.length > 0 && s.invalidate(keys),
        tags.length > 0 && s.bumpTags(tags),
      ])
    }, false)
    if (done === UNAVAILABLE) return false
    for (const key of keys) this.#pendingKeys.delete(key)
    for (const tag of tags) this.#pendingTags.delete(tag)
    return true
  }

  async #call<T>(operation: (store: CacheStore) => Promise<T>, flush = true): Promise<Maybe<T>> {
    // Invalidations that could not be sent go first: until they are in, the store may hold
    // values they remove, so nothing is read from it or written to it.
    if (flush && this.#hasPending() && !(await this.#flush())) return UNAVAILABLE
    if (!this.#breaker.allows()) return UNAVAILABLE
    try {
      const result = await within(operation(this.store), this.#timeoutMs)
      this.#breaker.succeeded()
      return result
    } catch (error) {
      this.#breaker.failed()
      this.#report({ kind: 'error', error: storeError(error) })
      return UNAVAILABLE
    }
  }
}
