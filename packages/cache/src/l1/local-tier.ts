import { LRUCache } from 'lru-cache'
import type { Entry } from '../entry.js'
import type { ResolvedCacheOptions } from '../options/cache-options.js'
import { estimateSize } from './estimate-size.js'

/** What an entry costs L1 beyond its value: the LRU's node, the key, the tag map. */
const ENTRY_OVERHEAD = 200
const DROPS_REMEMBERED = 10_000

/**
 * L1: this process's copies, in an LRU bounded by entries and by an estimate of the heap
 * they hold ({@link estimateSize}), each kept at
 * most `maxAgeMs`, with an index from tag to keys so that a tag invalidation touches only its
 * entries. `epoch` moves with every invalidation, and each dropped key and tag remembers the
 * epoch it was dropped at: a load that began before an invalidation of its key or of one of
 * its tags must not fill L1 (its value may be what the invalidation removed); loads of other
 * keys may.
 */
export class LocalTier {
  readonly #lru: LRUCache<string, Entry> | undefined
  readonly #maxAgeMs: number
  readonly #keysByTag = new Map<string, Set<string>>()
  #epoch = 0
  /** Epoch of the last drop of each key and tag, and of the last clear. */
  readonly #droppedAt = new Map<string, number>()
  #clearedAt = 0
  #allowed: (now: number) => boolean = () => true

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
  gate(allowed: (now: number) => boolean): void {
    this.#allowed = allowed
  }

  get epoch(): number {
    return this.#epoch
  }

  /** A copy that is still fresh. */
  fresh(key: string): Entry | undefined {
    const entry = this.#lru?.get(key)
    if (!entry) return undefined
    const now = Date.now()
    return entry.freshUntil > now && this.#allowed(now) ? entry : undefined
  }

  /** Keeps a copy, unless an invalidation happened since `epoch`. */
  fill(key: string, entry: Entry, epoch: number): void {
    const ttl = entry.freshUntil - Date.now()
    if (!this.#lru || ttl <= 0 || this.#droppedSince(key, entry, epoch)) return
    if (!this.#allowed(Date.now())) return
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
    const epoch = ++this.#epoch
    // Bounded: past this many remembered drops, forget them all as if L1 had been cleared.
    if (this.#droppedAt.size > DROPS_REMEMBERED) this.#forgetDrops()
    for (const key of keys) this.#droppedAt.set(`k${key}`, epoch)
    for (const tag of tags) this.#droppedAt.set(`t${tag}`, epoch)
    for (const key of keys) this.#lru?.delete(key)
    for (const tag of tags) {
      for (const key of [...(this.#keysByTag.get(tag) ?? [])]) this.#lru?.delete(key)
    }
  }

  clear(): void {
    this.#forgetDrops()
    this.#lru?.clear()
  }

  #forgetDrops(): void {
    this.#clearedAt = ++this.#epoch
    this.#droppedAt.clear()
  }

  /** Whether the key, or a tag of the entry, was dropped after `epoch`. */
  #droppedSince(key: string, entry: Entry, epoch: number): boolean {
    if (epoch === this.#epoch) return false
    if (this.#clearedAt > epoch || (this.#droppedAt.get(`k${key}`) ?? 0) > epoch) return true
    for (const tag in entry.tags) if ((this.#droppedAt.get(`t${tag}`) ?? 0) > epoch) return true
    return false
  }

  #unindex(key: string, entry: Entry): void {
    for (const tag in entry.tags) {
      const keys = this.#keysByTag.get(tag)
      keys?.delete(key)
      if (keys?.size === 0) this.#keysByTag.delete(tag)
    }
  }
}
