import type { ReplicaServer } from '@sluice/testing'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { RoutedDatabase } from '../../src/index.js'
import {
  type DB,
  readPort,
  startTestCluster,
  type TestCluster,
  testRoutedDatabase,
  VIAS,
  waitFor,
} from '../helpers.js'

const via = VIAS[0] as (typeof VIAS)[number]
const PAIRS = 1000
const CONCURRENCY = 20
const APPLY_DELAY_MS = 300

describe.runIf(process.env.SLUICE_PG_ENGINE === 'system')(
  `sessions with synchronous_commit = off and a ${APPLY_DELAY_MS} ms apply delay (${via})`,
  () => {
    let servers: TestCluster
    let database: RoutedDatabase<DB>

    beforeAll(async () => {
      servers = await startTestCluster(via)
      await servers.cluster.primary.query('alter system set synchronous_commit = off')
      await servers.cluster.primary.query('select pg_reload_conf()')
      await Promise.all(
        servers.cluster.replicas.map((replica) =>
          (replica as ReplicaServer).setApplyDelay(APPLY_DELAY_MS),
        ),
      )
      database = testRoutedDatabase<DB>(servers.config(), { lagCheckIntervalMs: 50 })
      await waitFor(async () => database.replicas().every((replica) => replica.status === 'up'))
    })

    afterAll(async () => {
      await database?.close()
      await servers?.stop()
    })

    test(`${PAIRS} write-then-read pairs: zero stale reads; reads return to replicas`, {
      timeout: 180_000,
    }, async () => {
      let next = 0
      let stale = 0
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < PAIRS) {
            const name = `async ${next++}`
            await database.session(async () => {
              await database.db.insertInto('items').values({ name }).execute()
              const row = await database.db
                .selectFrom('items')
                .select('id')
                .where('name', '=', name)
                .executeTakeFirst()
              if (!row) stale++
            })
          }
        }),
      )
      expect(stale).toBe(0)
      await database.session(async () => {
        await database.db.insertInto('items').values({ name: 'caught up' }).execute()
        await waitFor(async () => servers.labelOf(await readPort(database.db)) !== 'primary', {
          what: 'session reads to return to a replica',
        })
      })
    })
  },
)
