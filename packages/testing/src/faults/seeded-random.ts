/**
 * A seeded pseudo-random number generator (mulberry32) for fault schedules: the same seed,
 * the same numbers in `[0, 1)`, so a failing run's schedule can be printed and replayed.
 *
 * @example
 * ```ts
 * import { seededRandom } from '@sluice/testing'
 *
 * const seed = Number(process.env.SLUICE_FAULT_SEED ?? Date.now() % 2 ** 31)
 * console.info(`faults with seed ${seed}`)
 * const random = seededRandom(seed)
 * const nextFaultInMs = 300 + random() * 1200
 * ```
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
}
