import type { ReplicaServer } from '@sluice/testing'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { RoutedDatabase } from '../src/index.js'
import {
  type DB,
  readPort,
  startTestCluster,
  type TestCluster,
  testRoutedDatabase,
  VIAS,
  waitFor,
} from './helpers.js'

const APPLY_DELAY_MS = 300
const PAIRS = 1000
const CONCURRENCY = 20

describe.each(VIAS)('read-your-writes (%s)', (via) => {
  let servers: TestCluster
  let database: RoutedDatabase<DB>
  let other: RoutedDatabase<DB>

  beforeAll(async () => {
    servers = await startTestCluster(via)
    await Promise.all(
      servers.cluster.replicas.map((replica) =>
        (replica as ReplicaServer).setApplyDelay(APPLY_DELAY_MS),
      ),
    )
    const options = { lagCheckIntervalMs: 100 }
    database = testRoutedDatabase<DB>(servers.config(), options)
    other = testRoutedDatabase<DB>(servers.config(), options)
  })

  afterAll(async () => {
    await Promise.all([database?.close(), other?.close()])
    await servers?.stop()
  })

  /** Runs `pairs` write-then-read pairs, `CONCURRENCY` at a time; returns stale reads and servers used. */
  async function pairs(
    count: number,
    pair: (name: string) => Promise<{ found: boolean; port: number }>,
  ): Promise<{ stale: number; servers: Set<string> }> {
    let next = 0
    let stale = 0
    const used = new Set<string>()
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < count) {
          const { found, port } = await pair(`${via}-${next++}-${Math.random()}`)
          if (!found) stale++
          used.add(servers.labelOf(port))
        }
      }),
    )
    return { stale, servers: used }
  }

  const readBack = (db: RoutedDatabase<DB>['db'], name: string) =>
    db
      .selectFrom('items')
      .select(['id', (eb) => eb.fn<number>('inet_server_port', []).as('port')])
      .where('name', '=', name)
      .executeTakeFirst()

  test(`${PAIRS} write-then-read pairs in sessions: no stale read`, {
    timeout: 120_000,
  }, async () => {
    const result = await pairs(PAIRS, (name) =>
      database.session(async () => {
        await database.db.insertInto('items').values({ name }).execute()
        const row = await readBack(database.db, name)
        return { found: row !== undefined, port: row?.port ?? 0 }
      }),
    )
    expect(result.stale).toBe(0)
  })

  test('without a session the same pairs do read stale data (the check above can fail)', async () => {
    const result = await pairs(50, async (name) => {
      await database.db.insertInto('items').values({ name }).execute()
      const row = await readBack(database.db, name)
      return { found: row !== undefined, port: row?.port ?? 0 }
    })
    expect(result.stale).toBeGreaterThan(0)
  })

  test('reads in a session go back to replicas once they have replayed its writes', async () => {
    await database.session(async () => {
      await database.db.insertInto('items').values({ name: 'caught-up' }).execute()
      const token = database.consistencyToken()
      expect(token).toMatch(/^v1\.\d+\.[0-9A-F]+\.[0-9A-F]+\/[0-9A-F]+\.[0-9a-z]{4}$/)
      expect(servers.labelOf(await readPort(database.db))).toBe('primary')
      await waitFor(async () => servers.labelOf(await readPort(database.db)) !== 'primary', {
        what: 'session reads to return to a replica',
      })
      const row = await readBack(database.db, 'caught-up')
      expect(servers.labelOf(row?.port ?? 0)).toMatch(/^replica-/)
    })
  })

  test('a token carried to a second, independent RoutedDatabase: no stale read', {
    timeout: 120_000,
  }, async () => {
    const result = await pairs(PAIRS, async (name) => {
      const token = await database.session(async () => {
        await database.db.insertInto('items').values({ name }).execute()
        return database.consistencyToken() as string
      })
      const row = await other.withConsistency({ atLeast: token }, () => readBack(other.db, name))
      return { found: row !== undefined, port: row?.port ?? 0 }
    })
    expect(result.stale).toBe(0)
  })

  test('withConsistency({ maxLagMs }) keeps reads off replicas lagging more than that', async () => {
    await waitFor(() => database.replicas().every((r) => r.status === 'up'))
    // A steady write keeps the delayed replicas APPLY_DELAY_MS behind.
    let writing = true
    const writer = (async () => {
      while (writing) await database.db.insertInto('items').values({ name: 'tick' }).execute()
    })()
    try {
      await waitFor(() => database.replicas().every((r) => (r.lagMs ?? 0) > 100), {
        what: 'the replicas to report their apply delay as lag',
      })
      const tight = await database.withConsistency({ maxLagMs: 100 }, () => readPort(database.db))
      expect(servers.labelOf(tight)).toBe('primary')
      const loose = await database.withConsistency({ maxLagMs: 60_000 }, () =>
        readPort(database.db),
      )
      expect(servers.labelOf(loose)).toMatch(/^replica-/)
    } finally {
      writing = false
      await writer
    }
  })

  test('a malformed token is a typed error', async () => {
    await expect(
      database.withConsistency({ atLeast: 'not-an-lsn' }, () => readPort(database.db)),
    ).rejects.toMatchObject({ code: 'INVALID_CONSISTENCY_TOKEN' })
    await expect(
      database.withConsistency({ maxLagMs: -5 }, () => readPort(database.db)),
    ).rejects.toMatchObject({ code: 'CONFIG_INVALID' })
  })
})
