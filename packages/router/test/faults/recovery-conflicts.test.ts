import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { RoutedDatabase } from '../../src/index.js'
import {
  type DB,
  routeRecorder,
  startTestCluster,
  type TestCluster,
  testRoutedDatabase,
  VIAS,
  waitFor,
} from '../helpers.js'

const via = VIAS[0] as (typeof VIAS)[number]
const RUN_MS = 10_000
const READERS = 20

describe.runIf(process.env.SLUICE_PG_ENGINE === 'system')(
  `reads on replicas with max_standby_streaming_delay = 0 under VACUUM and ALTER TABLE (${via})`,
  () => {
    let servers: TestCluster
    let database: RoutedDatabase<DB>
    const recorder = routeRecorder()

    beforeAll(async () => {
      servers = await startTestCluster(via)
      await servers.cluster.primary.query(
        "insert into items (name) select 'row ' || n from generate_series(1, 20000) n",
      )
      for (const replica of servers.cluster.replicas) {
        replica.configure(['max_standby_streaming_delay = 0', 'hot_standby_feedback = off'])
        await replica.query('select pg_reload_conf()')
      }
      await servers.cluster.waitForReplay()
      database = testRoutedDatabase<DB>(servers.config(), {
        lagCheckIntervalMs: 200,
        instrumentation: recorder,
      })
      await waitFor(async () => database.replicas().every((replica) => replica.status === 'up'))
    })

    afterAll(async () => {
      await database?.close()
      await servers?.stop()
    })

    test(`${READERS} readers for ${RUN_MS / 1000} s: zero failed reads`, {
      timeout: 120_000,
    }, async () => {
      const stopAt = Date.now() + RUN_MS
      const failures: unknown[] = []
      let reads = 0
      const primary = servers.cluster.primary
      const churn = (async () => {
        for (let round = 0; Date.now() < stopAt; round++) {
          await primary.query(`update items set name = name || '' where id % 10 = ${round % 10}`)
          await primary.query('vacuum items')
          await primary.query(`alter table items add column c${round} int`)
          await primary.query(`alter table items drop column c${round}`)
        }
      })()
      const readers = Array.from({ length: READERS }, async () => {
        while (Date.now() < stopAt) {
          try {
            // Each read holds its snapshot and lock for 50 ms: replay conflicts with it.
            await database.db
              .selectFrom('items')
              .select(['id', 'name', sql`(select pg_sleep(0.05))`.as('held')])
              .orderBy('id')
              .limit(2000)
              .execute()
            reads++
          } catch (error) {
            failures.push(error)
          }
        }
      })
      await Promise.all([churn, ...readers])
      expect(failures).toEqual([])
      expect(reads).toBeGreaterThan(0)
      // The conflicts did happen, and were absorbed by retries.
      const retries = recorder.events.filter((event) => event.reason === 'retry')
      expect(retries.length).toBeGreaterThan(0)
    })
  },
)
