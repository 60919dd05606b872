/**
 * Stops calling a failing dependency for a while: after `failureThreshold` failures in a row
 * it opens for `openMs`, then lets one call through (half-open); a success closes it.
 *
 * @example
 * ```ts
 * const breaker = new CircuitBreaker({ failureThreshold: 5, openMs: 1000 })
 * if (breaker.allows()) {
 *   try { await redis.get(key); breaker.succeeded() } catch { breaker.failed() }
 * }
 * ```
 */
export class CircuitBreaker {
  readonly #threshold: number
  readonly #openMs: number
  #failures = 0
  #openUntil = 0
  #probing = false

  constructor({ failureThreshold, openMs }: { failureThreshold: number; openMs: number }) {
    this.#threshold = failureThreshold
    this.#openMs = openMs
  }

  /** `closed`, `open`, or `half-open` (one trial call allowed). */
  get state(): 'closed' | 'open' | 'half-open' {
    if (this.#failures < this.#threshold) return 'closed'
    return Date.now() < this.#openUntil ? 'open' : 'half-open'
  }

  /** True when a call may go ahead. In half-open, only one trial call at a time. */
  allows(): boolean {
    const state = this.state
    if (state === 'closed') return true
    if (state === 'open' || this.#probing) return false
    this.#probing = true
    return true
  }

  succeeded(): void {
    this.#failures = 0
    this.#probing = false
  }

  /** A call that neither succeeded nor failed (cut short by its caller): frees the trial slot. */
  released(): void {
    this.#probing = false
  }

  failed(): void {
    this.#failures++
    this.#probing = false
    if (this.#failures >= this.#threshold) this.#openUntil = Date.now() + this.#openMs
  }
}
