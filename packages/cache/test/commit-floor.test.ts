import { HistoryRecorder, noStaleReads } from '@sluice/testing/history'
import { afterAll, beforeAll, expect, test } from 'vitest'
import type { Cache } from '../src/index.js'
import { gate } from './helpers.js'
import { type LaggingCluster, startLaggingCluster } from './workloads/lagging-cluster.js'

const POOL_SIZE = 2
let lagging: LaggingCluster

beforeAll(async () => {
  // Through PgBouncer in the production profile (the workload's own rule).
  lagging = await startLaggingCluster({ applyDelayMs: 500, pgbouncer: false, poolSize: POOL_SIZE })
}, 180_000)

afterAll(() => lagging?.stop())

/**
 * The most callers the primary's pool had waiting for a connection (what the pool reports in
 * `health()`), from now until the returned function is called.
 */
function primaryPoolWaits(): () => Promise<number> {
  let most = 0
  let watching = true
  const watch = (async () => {
    while (watching) {
      const report = await lagging.database.health()
      const primary = report.targets.find((target) => target.role === 'primary')
      most = Math.max(most, primary?.pool.waiting ?? 0)
    }
  })()
  return async () => {
    watching = false
    await watch
    return most
  }
}

test(`every connection of a pool of ${POOL_SIZE} committing at once: each commit's floor is read on its own connection, and nothing stale is cached`, {
  timeout: 120_000,
}, async () => {
  const { cluster, database, writer, reader } = lagging
  const recorder = new HistoryRecorder()
  const select = (id: number) =>
    database.db.selectFrom('counters').select('value').where('id', '=', id)
  const read = async (cache: Cache, id: number) => (await cache.query(select(id)))[0]?.value
  const commit = (id: number, value: number, before?: () => Promise<void>) =>
    database.db.transaction().execute(async (trx) => {
      await trx.updateTable('counters').set({ value }).where('id', '=', id).execute()
      await before?.()
    })
  for (const id of [1, 2]) {
    await recorder.write('writer', `counter:${id}`, 0, () => lagging.counter(id))
    await recorder.read('reader', `counter:${id}`, () => read(reader, id)) // the old value cached
  }
  // Replay paused, not only late: a reload without its commit's floor reads the old row.
  for (const replica of cluster.replicas) await replica.pauseReplay()
  let waited: number
  try {
    // The second transaction holds the pool's other connection until the first has committed.
    const updated = gate()
    const held = gate()
    const second = recorder.write('second commit', 'counter:2', 1, () =>
      commit(2, 1, async () => {
        updated.open()
        await held.promise
      }),
    )
    await updated.promise
    const waits = primaryPoolWaits()
    // Its afterCommit (the writer's invalidateOnCommit) runs while it holds its connection.
    await recorder.write('first commit', 'counter:1', 1, () => commit(1, 1))
    waited = await waits()
    // What the replicas hold: the old rows; a reload without its floor would cache them.
    for (const replica of cluster.replicas) {
      expect(
        await replica.query('select value from counters order by id', [], lagging.databaseName),
      ).toEqual([{ value: 0 }, { value: 0 }])
    }
    // Each instance reloads row 1 (at the floor: from the primary), then serves what it
    // stored; while the second commit, whose own floor would cover the first's, is still open.
    const readBoth = async (id: number) => {
      for (let round = 0; round < 2; round++) {
        await recorder.read('reader', `counter:${id}`, () => read(reader, id))
        await recorder.read('writer', `counter:${id}`, () => read(writer, id))
      }
    }
    await readBoth(1)
    held.open()
    await second
    await readBoth(2)
  } finally {
    for (const replica of cluster.replicas) await replica.resumeReplay()
  }
  const result = noStaleReads(recorder.history())
  expect(result.violations, result.format()).toEqual([])
  // What the pool saw: no caller waited for a connection while both were committing (asking
  // for the floor on a second connection waited for one, probeTimeoutMs, and got none).
  expect(waited).toBe(0)
  expect(writer.events.filter((event) => event.kind === 'error')).toEqual([])
})
