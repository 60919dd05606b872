import type { SluiceDatabase } from '@sluice/core'
import { type CheckResult, HistoryRecorder, noStaleReads } from '@sluice/testing/history'
import type { Cache } from '../../src/index.js'
import { gate } from '../helpers.js'
import type { CounterDB } from './lagging-cluster.js'

/**
 * Cache options every torture run needs: each iteration's loader is held until the writer's
 * update and invalidation are done, which on a machine shared by several suites can take longer
 * than the default 10 s `loadTimeoutMs`; the workload judges staleness, not load time.
 */
export const TORTURE_CACHE_OPTIONS = { loadTimeoutMs: 60_000 } as const

/** How many stale-set iterations, on how many independent keys (one row each) at once. */
export interface StaleSetOptions {
  readonly iterations: number
  /** Concurrent independent loops, each on its own key and row; they share the cache. */
  readonly workers: number
}

/** Creates the empty `counters` table {@link staleSetTorture} fills. */
export async function createCounters(database: SluiceDatabase<CounterDB>): Promise<void> {
  await database.db.schema
    .createTable('counters')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('value', 'integer', (c) => c.notNull())
    .execute()
}

/**
 * The stale-set race, `iterations` times in all, spread over `workers` concurrent loops, each
 * on its own row (inserted at version 0 into the table {@link createCounters} made) and key: a
 * load reads its row, then stalls while the row is updated to the next version and the key
 * invalidated; once it stores (or fails to), the key is read twice. Every operation is
 * recorded; the result is `noStaleReads`' verdict (a read that started after the invalidation
 * saw the update), with each row's last version as written and as the database holds it.
 *
 * @example
 * ```ts
 * await createCounters(database)
 * const result = await staleSetTorture(database, cache, { iterations: 10_000, workers: 16 })
 * expect(result.violations, result.format()).toEqual([])
 * ```
 */
export async function staleSetTorture(
  database: SluiceDatabase<CounterDB>,
  cache: Cache,
  { iterations, workers }: StaleSetOptions,
): Promise<
  CheckResult & {
    readonly reads: number
    /** Each row's last version: what the workload wrote, and what the database holds. */
    readonly rows: { readonly written: readonly number[]; readonly stored: readonly number[] }
  }
> {
  const recorder = new HistoryRecorder()
  const counts = Array.from(
    { length: workers },
    (_, index) => Math.floor(iterations / workers) + (index < iterations % workers ? 1 : 0),
  )
  await Promise.all(counts.map((count, index) => loop(database, cache, recorder, index + 1, count)))
  const rows = await database.db.selectFrom('counters').select('value').orderBy('id').execute()
  const history = recorder.history()
  return Object.assign(noStaleReads(history), {
    rows: { written: counts, stored: rows.map((row) => row.value) },
    reads: history.operations.filter((operation) => operation.kind === 'read').length,
  })
}

/** One sequential loop of the race on row `id` (key `counter:<id>`), versions 1..count. */
async function loop(
  database: SluiceDatabase<CounterDB>,
  cache: Cache,
  recorder: HistoryRecorder,
  id: number,
  count: number,
): Promise<void> {
  const key = `counter:${id}`
  const [writer, slow, reader] = [`writer-${id}`, `slow-${id}`, `reader-${id}`]
  await recorder.write(writer, key, 0, () =>
    database.db.insertInto('counters').values({ id, value: 0 }).execute(),
  )
  const read = async () =>
    (
      await database.db
        .selectFrom('counters')
        .select('value')
        .where('id', '=', id)
        .executeTakeFirstOrThrow()
    ).value
  for (let version = 1; version <= count; version++) {
    // Start cold, so that the next load runs its loader.
    await recorder.invalidate(writer, key, () => cache.delete(key))
    // A load reads the database, then stalls...
    const loaderRead = gate()
    const release = gate()
    const loading = recorder.read(slow, key, () =>
      cache.getOrLoad(key, async () => {
        const value = await read()
        loaderRead.open()
        await release.promise
        return value
      }),
    )
    // (A load served without its loader is over, and judged like any read.)
    await Promise.race([loaderRead.promise, loading])
    // ...while the row is updated and the key invalidated.
    await recorder.write(writer, key, version, () =>
      database.db.updateTable('counters').set({ value: version }).where('id', '=', id).execute(),
    )
    await recorder.invalidate(writer, key, () => cache.delete(key))
    release.open()
    await loading
    // Everything asked after the invalidation returned must see the update.
    await recorder.read(reader, key, () => cache.getOrLoad(key, read))
    await recorder.read(reader, key, () => cache.getOrLoad(key, read))
  }
}
