import type pg from 'pg'
import { expect } from 'vitest'
import type { FaultProxy } from '../src/index.js'

/** Round trips of `select 1` on `client`, in ms, fastest first. */
async function roundTrips(client: pg.Client, count = 7): Promise<number[]> {
  const times: number[] = []
  for (let i = 0; i < count; i++) {
    const started = performance.now()
    await client.query('select 1')
    times.push(performance.now() - started)
  }
  return times.sort((a, b) => a - b)
}

/**
 * Checks that `network.latency(50)` makes every round trip of `client` at least 100 ms (50 ms
 * each way), about 100 ms over the base, and that `restore()` takes it away.
 * Fastest round trips, not medians: a loaded machine slows some samples, never speeds one up.
 */
export async function expectLatencyAddsAndRestores(
  client: pg.Client,
  network: FaultProxy,
): Promise<void> {
  const [base] = await roundTrips(client)
  await network.latency(50)
  const slow = await roundTrips(client)
  await network.restore()
  const [restored] = await roundTrips(client)
  const [fastestSlow] = slow
  // Every round trip waits 50 ms each way (timers round down by under a millisecond)...
  expect(fastestSlow).toBeGreaterThanOrEqual(99)
  // ...which is about 100 ms over the base (generous: a loaded machine inflates the base too).
  expect((fastestSlow as number) - (base as number)).toBeGreaterThanOrEqual(60)
  expect((fastestSlow as number) - (base as number)).toBeLessThan(400)
  // restore(): round trips faster than any delayed one could be, and near the base again.
  expect(restored).toBeLessThan(99)
  expect((restored as number) - (base as number)).toBeLessThan(60)
}
