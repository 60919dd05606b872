import type { PostgresServer } from '@sluice/testing'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { RoutedDatabase } from '../../src/index.js'
import {
  type DB,
  lateness,
  readPort,
  startTestCluster,
  type TestCluster,
  testRoutedDatabase,
  VIAS,
  waitFor,
} from '../helpers.js'

// Long workloads: PostgreSQL 15 only, directly (or through PgBouncer in the production profile).
const via = VIAS[0] as (typeof VIAS)[number]
const READERS = 100
const RUN_MS = 10_000
const STATEMENT_TIMEOUT_MS = 1000
const POOL_TIMEOUT_MS = 2000
const PROBE_TIMEOUT_MS = 500
const CLOSE_TIMEOUT_MS = 1000
const GRACE_MS = Math.max(100, STATEMENT_TIMEOUT_MS / 10)
// The longest a read may wait on one server (for a pooled connection, or for an answer)...
const READ_DEADLINE_MS = Math.max(
  POOL_TIMEOUT_MS,
  STATEMENT_TIMEOUT_MS + (via === 'pgbouncer' ? 2 : 1) * GRACE_MS,
)
// ...and so the longest a read may take: that, then one retry elsewhere (1 s of slack for a
// machine whose two cores are shared by several test runs).
const READ_BOUND_MS = 2 * READ_DEADLINE_MS + 1000

type Fault = 'freeze' | 'blackhole' | 'latency'
const faults: readonly Fault[] = via === 'direct' ? ['freeze', 'blackhole', 'latency'] : ['freeze'] // the proxy sits before PgBouncer

describe.runIf(process.env.SLUICE_PG_ENGINE === 'system')(
  `${READERS} readers for ${RUN_MS / 1000} s with one replica faulty (${via})`,
  () => {
    let servers: TestCluster
    let faulty: PostgresServer

    beforeAll(async () => {
      servers = await startTestCluster(via, { proxied: true })
      faulty = servers.cluster.replicas[0] as PostgresServer
    })

    afterAll(async () => {
      await faulty?.thaw()
      await faulty?.network?.restore()
      await servers?.stop()
    })

    const apply = async (fault: Fault) => {
      if (fault === 'freeze') await faulty.freeze()
      else if (fault === 'blackhole') await faulty.network?.blackhole()
      else await faulty.network?.latency(200)
    }
    const undo = async () => {
      await faulty.thaw()
      await faulty.network?.restore()
    }

    test.each(faults)(
      '%s: no read fails, each within its deadline plus one retry',
      {
        timeout: 120_000,
      },
      async (fault) => {
        const database: RoutedDatabase<DB> = testRoutedDatabase<DB>(
          servers.config({
            DB_STATEMENT_TIMEOUT: `${STATEMENT_TIMEOUT_MS}ms`,
            DB_POOL_TIMEOUT: `${POOL_TIMEOUT_MS}ms`,
            DB_POOL_SIZE: '20',
          }),
          {
            strategy: 'least-in-flight',
            lagCheckIntervalMs: 200,
            probeTimeoutMs: PROBE_TIMEOUT_MS,
            retryDelayMs: 200,
            maxRetryDelayMs: 1000,
          },
        )
        const served: Record<string, number> = {}
        const failures: unknown[] = []
        let slowest = 0
        try {
          await waitFor(async () => database.replicas().every((replica) => replica.status === 'up'))
          const stopAt = Date.now() + RUN_MS
          const readers = Array.from({ length: READERS }, async () => {
            while (Date.now() < stopAt) {
              const started = performance.now()
              try {
                const label = servers.labelOf(await readPort(database.db))
                served[label] = (served[label] ?? 0) + 1
              } catch (error) {
                failures.push(error)
              }
              slowest = Math.max(slowest, performance.now() - started)
            }
          })
          await waitFor(() => failures.length > 0 || (served['replica-1'] ?? 0) > 50, {
            what: 'reads on replica-1',
          })
          expect(failures).toEqual([])
          await apply(fault)
          const before = { ...served }
          // health() answers within its timeout while the fault lasts.
          await waitFor(() => Date.now() > stopAt - RUN_MS / 2)
          let status: string | undefined
          const late = await lateness(PROBE_TIMEOUT_MS, async () => {
            status = (await database.health()).status
          })
          expect(late).toBeLessThan(200)
          if (fault !== 'latency') expect(status).toBe('degraded')
          await Promise.all(readers)
          expect(failures).toEqual([])
          expect(slowest).toBeLessThan(READ_BOUND_MS)
          const during = (label: string) => (served[label] ?? 0) - (before[label] ?? 0)
          // The healthy replica carried the reads (least-in-flight shuns the slow one).
          expect(during('replica-2')).toBeGreaterThan(3 * during('replica-1'))
        } finally {
          // close() keeps its timeout with the fault still in place.
          const late = await lateness(CLOSE_TIMEOUT_MS, () =>
            database.close({ timeoutMs: CLOSE_TIMEOUT_MS }),
          )
          await undo()
          expect(late).toBeLessThan(200)
        }
      },
    )
  },
)
