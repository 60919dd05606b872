import type { Floor } from './cache-store.js'
import { unknownFloor } from './unknown-floor.js'

const NONE: ReadonlySet<string> = new Set()

/** A batch of invalidations to send together, with the newest of their floors. */
export interface InvalidationBatch {
  readonly keys: readonly string[]
  readonly tags: readonly string[]
  readonly token: string | undefined
}

/**
 * Invalidations not yet recorded in the store. They are sent as one batch under the newest of
 * their floors: a floor higher than a write needs is still correct (its reload only waits for
 * a replica that has more). With floors (a consistency source), one that came without a token
 * has an unknown floor ({@link unknownFloor}), which wins: its batch's loads read the primary.
 */
export class PendingInvalidations {
  readonly #keys = new Set<string>()
  readonly #tags = new Set<string>()
  readonly #newest: Floor['newest'] | undefined
  #token: string | undefined

  constructor(newest: Floor['newest'] | undefined) {
    this.#newest = newest
  }

  get size(): number {
    return this.#keys.size + this.#tags.size
  }

  add(keys: readonly string[], tags: readonly string[], token: string | undefined): void {
    for (const key of keys) this.#keys.add(key)
    for (const tag of tags) this.#tags.add(tag)
    this.#token = this.#merge(this.#token, token ?? (this.#newest && unknownFloor()))
  }

  /** Everything pending, which is then no longer pending. */
  take(): InvalidationBatch {
    const batch = { keys: [...this.#keys], tags: [...this.#tags], token: this.#token }
    this.#keys.clear()
    this.#tags.clear()
    this.#token = undefined
    return batch
  }

  /** A batch that could not be sent is pending again, merged with what was added since. */
  putBack(batch: InvalidationBatch): void {
    this.add(batch.keys, batch.tags, batch.token)
  }

  /**
   * The floor to send with a batch's token. A load's token replaces the unknown floors it saw
   * (`replacing`: it read the primary after the invalidations that wrote them), and only those.
   */
  floor(token: string | undefined, replacing: ReadonlySet<string> = NONE): Floor | undefined {
    const newest = this.#newest
    if (token === undefined || !newest) return undefined
    if (replacing.size === 0) return { token, newest }
    return { token, newest: (a, b) => (replacing.has(a) ? b : newest(a, b)) }
  }

  #merge(a: string | undefined, b: string | undefined): string | undefined {
    if (a === undefined) return b
    if (b === undefined || !this.#newest) return a
    return this.#newest(a, b)
  }
}
