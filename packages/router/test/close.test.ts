import { DatabaseClosedError } from '@sluice/core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  type DB,
  lateness,
  preferring,
  readPort,
  startTestCluster,
  type TestCluster,
  testRoutedDatabase,
  VIAS,
  waitFor,
} from './helpers.js'

describe.each(VIAS)('close() with a close already under way (%s)', (via) => {
  let servers: TestCluster

  beforeAll(async () => {
    servers = await startTestCluster(via)
  })

  afterAll(async () => {
    await servers?.stop()
  })

  test('close({ timeoutMs }) keeps its own budget after a close() with the default one (as db.destroy() calls it)', async () => {
    // A read hangs on a frozen replica far longer than either budget: only a cut-off ends it.
    const database = testRoutedDatabase<DB>(servers.config({ DB_STATEMENT_TIMEOUT: '60s' }), {
      lagCheckIntervalMs: 60_000,
      probeTimeoutMs: 5000,
      strategy: preferring('replica-1'),
    })
    await waitFor(async () => database.replicas().every((replica) => replica.status === 'up'))
    await readPort(database.db)
    const frozen = servers.cluster.replicas[0]
    if (!frozen) throw new Error('the cluster has no replica')
    await frozen.freeze()
    try {
      const hanging = readPort(database.db).then(
        () => 'answered',
        () => 'failed',
      )
      await waitFor(async () => (database.replicas()[0]?.inFlight ?? 0) > 0)
      // What Kysely's destroy(), a framework's shutdown hook or a second signal handler does
      // first: close() with the default budget (10 s), not awaited.
      const first = database.close()
      expect(await lateness(300, () => database.close({ timeoutMs: 300 }))).toBeLessThan(200)
      expect(await hanging).toBe('failed')
      await first
    } finally {
      await frozen.thaw()
    }
  })

  test('latestToken() after close() rejects with DatabaseClosedError, not pg pool text', async () => {
    const database = testRoutedDatabase<DB>(servers.config())
    expect(await database.latestToken()).toMatch(/^v1\./)
    await database.close()
    const error = await database.latestToken().catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(DatabaseClosedError)
    expect((error as DatabaseClosedError).code).toBe('DATABASE_CLOSED')
  })
})
