// Typed against the cache's own interface (a type-only import: no runtime dependency on it).
import type { CacheStore, Floor } from '@sluice/cache'
import { describe, expect, test } from 'vitest'
import { waitFor } from './process/wait.js'

/** Tokens for the floor tests: numbers as strings, the larger the newer. */
const numericFloor = (token: number): Floor => ({
  token: String(token),
  newest: (a, b) => (Number(a) >= Number(b) ? a : b),
})

/**
 * The behaviour every `CacheStore` must have, as a vitest suite: run it against each
 * implementation (a custom one included). `store()` returns the store under test; keys are
 * unique per test, so one store may serve every test.
 *
 * @example
 * ```ts
 * import { cacheStoreContract } from '@sluice/testing/cache-store'
 * cacheStoreContract('redis', async () => new RedisStore(new Redis(redisUrl), 'contract'))
 * ```
 */
export function cacheStoreContract(name: string, store: () => Promise<CacheStore>): void {
  let counter = 0
  const key = (label: string) => `contract:${process.pid}:${++counter}:${label}`
  const put = async (s: CacheStore, k: string, payload: string, ttlMs: number) => {
    const { version } = await s.generation(k)
    expect(await s.setIfGeneration(k, payload, ttlMs, version)).toBe(true)
  }

  describe(`CacheStore contract: ${name}`, () => {
    test('a stored payload reads back; a missing key is undefined', async () => {
      const s = await store()
      const k = key('set')
      expect(await s.get(k)).toBeUndefined()
      await put(s, k, 'payload ✓', 60_000)
      expect(await s.get(k)).toBe('payload ✓')
    })

    test('entries expire after their TTL', async () => {
      const s = await store()
      const k = key('ttl')
      await put(s, k, 'short', 50)
      await waitFor(async () => (await s.get(k)) === undefined, { what: 'the entry to expire' })
    })

    test('an invalidation between reading the generation and storing blocks the store', async () => {
      const s = await store()
      const k = key('stale')
      await put(s, k, 'old', 60_000)
      const { version: generation } = await s.generation(k)
      const [moved] = await s.invalidate([k]) // the new generation, which a `set` stores under
      expect(await s.get(k)).toBeUndefined()
      expect(await s.setIfGeneration(k, 'stale', 60_000, generation)).toBe(false)
      expect(await s.get(k)).toBeUndefined()
      const { version: next } = await s.generation(k)
      expect(next).not.toBe(generation)
      expect(next).toBe(moved)
      expect(await s.setIfGeneration(k, 'new', 60_000, next)).toBe(true)
    })

    test('keys of any characters, braces first, are one group', async () => {
      const s = await store()
      for (const label of ['}', '}{', '{}', '{x}', 'a}b{c', '\u0000\n\t', 'é漢🙂']) {
        const k = `${label}${key('chars')}`
        await put(s, k, label, 60_000)
        expect(await s.get(k)).toBe(label)
        expect(await s.tryLock(k, 'owner', 60_000)).toBe(true)
        await s.invalidate([k])
        expect(await s.get(k)).toBeUndefined()
        expect(await s.unlock(k, 'owner')).toBe(true)
      }
    })

    test('tag versions: none before use, created for a load, changed by every bump', async () => {
      const s = await store()
      const [a, b] = [key('tag-a'), key('tag-b')]
      expect(await s.tagVersions([a, b])).toEqual([undefined, undefined])
      const [first] = await s.snapshotTags([a])
      expect((await s.tagVersions([a]))[0]).toBe(first?.version)
      expect((await s.snapshotTags([a]))[0]?.version).toBe(first?.version)
      await s.bumpTags([a, b])
      const [second, other] = await s.tagVersions([a, b])
      expect(second).not.toBe(first?.version)
      expect(other).toBeDefined()
      await s.bumpTags([a])
      expect((await s.tagVersions([a]))[0]).not.toBe(second)
    })

    test('floors: the newest recorded with any invalidation is kept', async () => {
      const s = await store()
      const [k, t] = [key('floor-key'), key('floor-tag')]
      expect((await s.generation(k)).floor).toBeUndefined()
      await s.invalidate([k], numericFloor(20))
      await s.invalidate([k], numericFloor(10)) // older: arrived late, must not lower the floor
      await s.invalidate([k])
      expect((await s.generation(k)).floor).toBe('20')
      await s.bumpTags([t], numericFloor(5))
      await s.bumpTags([t], numericFloor(7))
      expect((await s.snapshotTags([t]))[0]?.floor).toBe('7')
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

    test('only the owner extends a lock', async () => {
      const s = await store()
      const k = key('extend')
      const started = Date.now()
      expect(await s.tryLock(k, 'owner', 200)).toBe(true)
      expect(await s.extendLock(k, 'other', 60_000)).toBe(false)
      expect(await s.extendLock(k, 'owner', 60_000)).toBe(true)
      // Past the lock's first 200 ms, it is still held: the extension took.
      await waitFor(async () => Date.now() - started > 400, { what: 'the first TTL to pass' })
      expect(await s.tryLock(k, 'other', 60_000)).toBe(false)
      expect(await s.unlock(k, 'owner')).toBe(true)
    })
  })
}
