import { LRUCache } from 'lru-cache'
import type { Entry } from '../entry.js'
import type { ResolvedCacheOptions } from '../options/cache-options.js'
import { estimateSize } from './estimate-size.js'

/** What an entry costs L1 beyond its value: the LRU's node, the key, the tag map. */
const ENTRY_OVERHEAD = 200

/**
 * L1: this process's copies, in an LRU bounded by entries and by an estimate of the heap
 * they hold ({@link estimateSize}), each kept at
 * most `maxAgeMs`, with an index from tag to keys so that a tag invalidation touches only its
 * entries. `epoch` moves with every invalidation: a load that began before one must not fill
 * L1 (its value may be what the invalidation removed).
 */
export class LocalTier {
  readonly #lru: LRUCache<string, Entry> | undefined
  readonly #maxAgeMs: number
  readonly #keysByTag = new Map<string, Set<string>>()
  #epoch = 0
  #allowed: () => boolean = () => true

  constructor(options: ResolvedCacheOptions['l1']) {
    this.#maxAgeMs = options === false ? 0 : options.maxAgeMs
    this.#lru =
      options === false
        ? undefined
        : new LRUCache<string, Entry>({
            max: options.maxEntries,
            maxSize: options.maxBytes,
            dispose: (entry, key) => this.#unindex(key, entry),
          })
  }

  /** Copies are served and kept only while `allowed()` (the invalidation bus's lease). */
  gate(allowed: () => boolean): void {
    this.#allowed = allowed
  }

  get epoch(): number {
    return this.#epoch
  }

  /** A copy that is still fresh. */
  fresh(key: string): Entry | undefined {
    const entry = this.#lru?.get(key)
    return entry && entry.freshUntil > Date.now() && this.#allowed() ? entry : undefined
  }

  /** Keeps a copy, unless an invalidation happened since `epoch`. */
  fill(key: string, entry: Entry, epoch: number): void {
    const ttl = entry.freshUntil - Date.now()
    if (!this.#lru || epoch !== this.#epoch || ttl <= 0 || !this.#allowed()) return
    const size =
      ENTRY_OVERHEAD + key.length * 2 + estimateSize(entry.value) + estimateSize(entry.tags)
    this.#lru.set(key, entry, { ttl: Math.min(ttl, this.#maxAgeMs), size })
    if (!this.#lru.has(key)) return // larger than all of L1
    for (const tag in entry.tags) {
      let keys = this.#keysByTag.get(tag)
      if (!keys) {
        keys = new Set()
        this.#keysByTag.set(tag, keys)
      }
      keys.add(key)
    }
  }

  /** Drops the keys and every copy loaded under any of the tags. */
  drop(keys: readonly string[], tags: readonly string[]): void {
    this.#epoch++
    for (const key of keys) this.#lru?.delete(key)
    for (const tag of tags) {
      for (const key of [...(this.#keysByTag.get(tag) ?? [])]) this.#lru?.delete(key)
    }
  }

  clear(): void {
    this.#epoch++
    this.#lru?.clear()
  }

  #unindex(key: string, entry: Entry): void {
    for (const tag in entry.tags) {
      const keys = this.#keysByTag.get(tag)
      keys?.delete(key)
      if (keys?.size === 0) this.#keysByTag.delete(tag)
    }
  }
}
