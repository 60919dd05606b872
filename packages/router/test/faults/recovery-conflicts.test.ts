import { sql } from 'kysely'
import { describe, expect, test } from 'vitest'
import { type DB, routeRecorder } from '../helpers.js'
import { useWorkloadCluster, WORKLOAD_VIA } from '../workloads/cluster.js'
import { startReaders } from '../workloads/readers.js'

const RUN_MS = 10_000
const READERS = 20
const MIN_ROUNDS = 5

describe(`reads on replicas with max_standby_streaming_delay = 0 under VACUUM and ALTER TABLE (${WORKLOAD_VIA})`, () => {
  const workload = useWorkloadCluster({
    prepare: async ({ cluster }) => {
      await cluster.primary.query(
        "insert into items (name) select 'row ' || n from generate_series(1, 20000) n",
      )
      for (const replica of cluster.replicas) {
        await replica.setStandbyDelay(0)
        await replica.setHotStandbyFeedback(false)
      }
    },
  })

  test(`${READERS} readers for ${RUN_MS / 1000} s: zero failed reads`, {
    timeout: 120_000,
  }, async () => {
    const recorder = routeRecorder()
    const database = await workload.database<DB>({
      lagCheckIntervalMs: 200,
      instrumentation: recorder,
    })
    const stopAt = Date.now() + RUN_MS
    const primary = workload.servers.cluster.primary
    // At least RUN_MS, and at least MIN_ROUNDS rounds of churn however slow the machine is.
    let churning = true
    const churn = (async () => {
      for (let round = 0; Date.now() < stopAt || round < MIN_ROUNDS; round++) {
        await primary.query(`update items set name = name || '' where id % 10 = ${round % 10}`)
        await primary.query('vacuum items')
        await primary.query(`alter table items add column c${round} int`)
        await primary.query(`alter table items drop column c${round}`)
      }
    })().finally(() => {
      churning = false
    })
    const readers = startReaders(
      READERS,
      () => !churning,
      () =>
        // Each read holds its snapshot and lock for 50 ms: replay conflicts with it.
        database.db
          .selectFrom('items')
          .select(['id', 'name', sql`(select pg_sleep(0.05))`.as('held')])
          .orderBy('id')
          .limit(100)
          .execute(),
    )
    await Promise.all([churn, readers.done])
    expect(readers.failures).toEqual([])
    expect(readers.reads).toBeGreaterThan(0)
    // The conflicts did happen on the replicas, and were absorbed by retries.
    const retries = recorder.events.filter((event) => event.reason === 'retry')
    expect(retries.length).toBeGreaterThan(0)
    // The servers cancelled reads for recovery conflicts. This count is read on the replicas
    // while they may still replay the churn, so it can be cancelled the same way: read again.
    const conflictsOf = async (replica: (typeof workload.servers.cluster.replicas)[number]) => {
      for (let attempt = 1; ; attempt++) {
        try {
          const [row] = await replica.query<{ n: number }>(
            'select (confl_snapshot + confl_lock)::int as n from pg_stat_database_conflicts where datname = current_database()',
          )
          return row?.n ?? 0
        } catch (error) {
          if ((error as { code?: string }).code !== '40001' || attempt === 20) throw error
        }
      }
    }
    const conflicts = await Promise.all(workload.servers.cluster.replicas.map(conflictsOf))
    expect(conflicts.reduce((sum, n) => sum + n, 0)).toBeGreaterThan(0)
  })
})
