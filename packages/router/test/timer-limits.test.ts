import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  type DB,
  readPort,
  startTestCluster,
  type TestCluster,
  testRoutedDatabase,
  VIAS,
  waitFor,
} from './helpers.js'

/** The longest wait a Node.js timer takes (2^31 - 1 ms): the largest duration options accept. */
const LONGEST = 2 ** 31 - 1

describe.each(VIAS)('durations at the timer limit (%s)', (via) => {
  let servers: TestCluster

  beforeAll(async () => {
    servers = await startTestCluster(via)
  })

  afterAll(async () => {
    await servers?.stop()
  })

  // probeTimeoutMs and DB_STATEMENT_TIMEOUT up to 2^31 - 1 ms are accepted, and a statement's
  // deadline is its timeout plus a grace: past 2^31 - 1 ms, Node fired that timer after 1 ms,
  // so every lag check's connection was destroyed (replicas down for good, reads on the
  // primary) and every read's too.
  test('accepted at 2^31 - 1 ms, they never fire early: replicas serve, health() is up', async () => {
    const overflows: string[] = []
    const onWarning = (warning: Error) => {
      if (warning.name === 'TimeoutOverflowWarning') overflows.push(warning.message)
    }
    process.on('warning', onWarning)
    const database = testRoutedDatabase<DB>(
      servers.config({ DB_STATEMENT_TIMEOUT: String(LONGEST) }),
      { probeTimeoutMs: LONGEST, lagCheckIntervalMs: 50 },
    )
    try {
      await database.db.selectFrom('items').select('id').execute()
      // Checks made later still find both replicas up (none was cut off by its own deadline).
      const later = Date.now() + 300
      await waitFor(async () =>
        database.replicas().every((replica) => (replica.checkedAt ?? 0) > later),
      )
      expect(database.replicas().map((replica) => [replica.label, replica.status])).toEqual([
        ['replica-1', 'up'],
        ['replica-2', 'up'],
      ])
      const served = new Set<string>()
      for (let read = 0; read < 10; read++) served.add(servers.labelOf(await readPort(database.db)))
      expect([...served].sort()).toEqual(['replica-1', 'replica-2'])
      const report = await database.health()
      expect(report.targets.map((target) => target.status)).toEqual(['up', 'up', 'up'])
      expect(overflows).toEqual([])
    } finally {
      process.off('warning', onWarning)
      await database.close()
    }
  })
})
