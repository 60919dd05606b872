import { describe, expect, test } from 'vitest'
import { waitFor } from './process/wait.js'

/**
 * The shape of `@sluice/cache`'s `CacheStore`, as the contract exercises it (declared here so
 * that this package does not depend on the cache).
 */
export interface ContractStore {
  get(key: string): Promise<string | undefined>
  set(key: string, payload: string, ttlMs: number): Promise<void>
  generation(key: string): Promise<number>
  setIfGeneration(key: string, payload: string, ttlMs: number, generation: number): Promise<boolean>
  invalidate(keys: readonly string[]): Promise<void>
  tagVersions(tags: readonly string[]): Promise<number[]>
  bumpTags(tags: readonly string[]): Promise<void>
  tryLock(key: string, owner: string, ttlMs: number): Promise<boolean>
  unlock(key: string, owner: string): Promise<boolean>
}

/**
 * The behaviour every `CacheStore` must have, as a vitest suite: run it against each
 * implementation (a custom one included). `store()` returns the store under test; keys are
 * unique per test, so one store may serve every test.
 *
 * @example
 * ```ts
 * import { cacheStoreContract } from '@sluice/testing/cache-store'
 * cacheStoreContract('redis', async () => new RedisStore(redis, 'contract'))
 * ```
 */
export function cacheStoreContract(name: string, store: () => Promise<ContractStore>): void {
  let counter = 0
  const key = (label: string) => `contract:${process.pid}:${++counter}:${label}`

  describe(`CacheStore contract: ${name}`, () => {
    test('set then get returns the payload; a missing key is undefined', async () => {
      const s = await store()
      const k = key('set')
      expect(await s.get(k)).toBeUndefined()
      await s.set(k, 'payload ✓', 60_000)
      expect(await s.get(k)).toBe('payload ✓')
    })

    test('entries expire after their TTL', async () => {
      const s = await store()
      const k = key('ttl')
      await s.set(k, 'short', 50)
      await waitFor(async () => (await s.get(k)) === undefined, { what: 'the entry to expire' })
    })

    test('setIfGeneration stores while the generation is unchanged', async () => {
      const s = await store()
      const k = key('gen')
      const generation = await s.generation(k)
      expect(await s.setIfGeneration(k, 'fresh', 60_000, generation)).toBe(true)
      expect(await s.get(k)).toBe('fresh')
    })

    test('an invalidation between reading the generation and storing blocks the store', async () => {
      const s = await store()
      const k = key('stale')
      await s.set(k, 'old', 60_000)
      const generation = await s.generation(k)
      await s.invalidate([k])
      expect(await s.get(k)).toBeUndefined()
      expect(await s.setIfGeneration(k, 'stale', 60_000, generation)).toBe(false)
      expect(await s.get(k)).toBeUndefined()
      const next = await s.generation(k)
      expect(next).not.toBe(generation)
      expect(await s.setIfGeneration(k, 'new', 60_000, next)).toBe(true)
    })

    test('tag versions start at 0 and only grow', async () => {
      const s = await store()
      const [a, b] = [key('tag-a'), key('tag-b')]
      expect(await s.tagVersions([a, b])).toEqual([0, 0])
      await s.bumpTags([a])
      await s.bumpTags([a, b])
      expect(await s.tagVersions([b, a])).toEqual([1, 2])
    })

    test('a lock has one owner, is released only by it, and expires', async () => {
      const s = await store()
      const k = key('lock')
      expect(await s.tryLock(k, 'first', 60_000)).toBe(true)
      expect(await s.tryLock(k, 'second', 60_000)).toBe(false)
      expect(await s.unlock(k, 'second')).toBe(false)
      expect(await s.unlock(k, 'first')).toBe(true)
      expect(await s.tryLock(k, 'second', 50)).toBe(true)
      await waitFor(() => s.tryLock(k, 'third', 60_000), { what: 'the lock to expire' })
      expect(await s.unlock(k, 'second')).toBe(false)
    })
  })
}
