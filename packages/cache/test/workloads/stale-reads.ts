import { type CheckResult, HistoryRecorder, noStaleReads } from '@sluice/testing/history'
import type { LaggingCluster } from './lagging-cluster.js'

/** How a cycle invalidates and reads: `getOrLoad` + explicit `delete`, or `cache.query` + `invalidateOnCommit`. */
export type CyclePattern = 'getOrLoad+delete' | 'query+invalidateOnCommit'

/**
 * `cycles` update → invalidate → read cycles on row `id` of a {@link LaggingCluster}: the
 * writer instance updates the row to the cycle's number and invalidates (explicitly, or by its
 * commit), then the reader instance reads, then the writer instance. Every operation is
 * recorded; the result is the history checker's `noStaleReads` verdict.
 *
 * @example
 * ```ts
 * const result = await staleReadCycles(lagging, 1, 1000, 'getOrLoad+delete')
 * expect(result.violations, result.format()).toEqual([])
 * ```
 */
export async function staleReadCycles(
  lagging: LaggingCluster,
  id: number,
  cycles: number,
  pattern: CyclePattern,
): Promise<CheckResult & { readonly reads: number }> {
  const { database, writer, reader } = lagging
  const key = `counter:${id}`
  const recorder = new HistoryRecorder()
  await recorder.write('writer', key, 0, () => lagging.counter(id))
  const select = () => database.db.selectFrom('counters').select('value').where('id', '=', id)
  const load = async () => (await select().executeTakeFirstOrThrow()).value
  const read =
    pattern === 'getOrLoad+delete'
      ? (cache: typeof reader) => cache.getOrLoad(key, load)
      : async (cache: typeof reader) => (await cache.query(select()))[0]?.value
  await recorder.read('reader', key, () => read(reader)) // warm: the old value is cached
  let reads = 1
  for (let version = 1; version <= cycles; version++) {
    const update = () =>
      database.db.updateTable('counters').set({ value: version }).where('id', '=', id).execute()
    if (pattern === 'getOrLoad+delete') {
      await recorder.write('writer', key, version, update)
      await recorder.invalidate('writer', key, () => writer.delete(key))
    } else {
      // The commit resolves once its invalidation (with its floor) is done: one operation.
      await recorder.write('writer', key, version, update)
    }
    await recorder.read('reader', key, () => read(reader))
    await recorder.read('writer', key, () => read(writer))
    reads += 2
  }
  return Object.assign(noStaleReads(recorder.history()), { reads })
}
