import type { ReplicaServer } from '@sluice/testing'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { RoutedDatabase } from '../src/index.js'
import {
  countReads,
  type DB,
  readPort,
  routeRecorder,
  startTestCluster,
  type TestCluster,
  testRoutedDatabase,
  VIAS,
  waitFor,
} from './helpers.js'

const READERS = 100
const RUN_MS = 10_000

describe.each(VIAS)('failover (%s)', (via) => {
  let servers: TestCluster
  let database: RoutedDatabase<DB>
  const recorder = routeRecorder()

  beforeAll(async () => {
    servers = await startTestCluster(via)
    database = testRoutedDatabase<DB>(servers.config(), {
      lagCheckIntervalMs: 200,
      retryDelayMs: 200,
      maxRetryDelayMs: 1000,
      instrumentation: recorder,
    })
  })

  afterAll(async () => {
    await database?.close()
    await servers?.stop()
  })

  test(`killing a replica under ${READERS} concurrent readers fails no read`, {
    timeout: 120_000,
  }, async () => {
    const replica = servers.cluster.replicas[0] as ReplicaServer
    const served: Record<string, number> = {}
    const failures: unknown[] = []
    const stopAt = Date.now() + RUN_MS
    const readers = Array.from({ length: READERS }, async () => {
      while (Date.now() < stopAt) {
        try {
          const label = servers.labelOf(await readPort(database.db))
          served[label] = (served[label] ?? 0) + 1
        } catch (error) {
          failures.push(error)
        }
      }
    })
    // Kill once reads are flowing to both replicas, as the servers report.
    await waitFor(() => (served['replica-1'] ?? 0) > 100 && (served['replica-2'] ?? 0) > 100)
    await replica.kill()
    const servedBeforeKill = served['replica-1'] ?? 0
    await Promise.all(readers)

    expect(failures).toEqual([])
    // Reads did hit the dead replica and were retried elsewhere, not just steered around it.
    expect(recorder.events.some((event) => event.reason === 'retry')).toBe(true)
    expect(served['replica-2']).toBeGreaterThan(servedBeforeKill)
    expect(database.replicas()[0]?.status).toBe('down')

    await replica.start()
    await waitFor(async () => servers.labelOf(await readPort(database.db)) === 'replica-1', {
      what: 'the restarted replica to serve reads again',
    })
    const after = await countReads(database.db, servers.labelOf, 100)
    expect(after['replica-1']).toBeGreaterThanOrEqual(40)
  })
})
