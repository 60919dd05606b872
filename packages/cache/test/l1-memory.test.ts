import { expect, test } from 'vitest'
import { testCache } from './helpers.js'

declare const gc: () => void

const heapUsed = () => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

test('a full L1 holds about maxBytes of heap, not a multiple of it (small objects cost more than their JSON)', {
  timeout: 120_000,
}, async () => {
  const maxBytes = 16 * 1024 * 1024
  // On Redis: the process then holds L1 only.
  const cache = testCache({ l1: { maxBytes, maxEntries: 100_000, maxAgeMs: 600_000 } })
  await cache.ready() // L1 serves once the invalidation channel is live
  const before = heapUsed()
  // Rows like a typical query result: many small objects with short strings.
  const row = (i: number) => ({ id: i, ok: true, tag: 'a', score: i / 3, at: i })
  const ENTRIES = 8000
  const rows = (i: number) => Array.from({ length: 40 }, (_, j) => row(i * 40 + j))
  for (let i = 0; i < ENTRIES; i += 100) {
    await Promise.all(
      Array.from({ length: 100 }, (_, j) =>
        cache.set(`rows:${i + j}`, rows(i + j), { ttlMs: 600_000 }),
      ),
    )
  }
  const grown = heapUsed() - before
  // Counting the payload's length instead, the same L1 grew the heap by several times maxBytes.
  expect(grown).toBeLessThan(maxBytes * 1.5)
  const l1Hits = async (from: number) => {
    cache.events.length = 0
    for (let i = 0; i < 50; i++) await cache.getOrLoad(`rows:${from - i}`, async () => [])
    return cache.events.filter((event) => event.kind === 'hit' && event.tier === 'l1').length
  }
  // The newest entries are in L1 (a few of the last parallel batch may have been evicted by
  // the others of that batch, which were filled after them)...
  expect(await l1Hits(ENTRIES - 1)).toBeGreaterThan(40)
  expect(await l1Hits(100)).toBe(0) // ...the oldest were evicted to stay within maxBytes
})
