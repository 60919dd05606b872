import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { RoutedDatabase } from '../src/index.js'
import { formatToken } from '../src/token.js'
import {
  type DB,
  readPort,
  startTestCluster,
  type TestCluster,
  testRoutedDatabase,
  VIAS,
  waitFor,
} from './helpers.js'
import { expectBackOnReplicas, writeThenReadPairs } from './workloads/pairs.js'
import { expectKept } from './workloads/served-history.js'

const PAIRS = 150
const CONCURRENCY = 10

describe.each(VIAS)('consistency tokens (%s)', (via) => {
  let servers: TestCluster
  let database: RoutedDatabase<DB>
  let systemId: string

  beforeAll(async () => {
    servers = await startTestCluster(via)
    const primary = servers.cluster.primary
    // Asynchronous commit, as chat and feed writes use it: the WAL write position is then
    // before the commit record, which a token must not be.
    await primary.setSynchronousCommit('off')
    const [row] = await primary.query<{ id: string }>(
      'select system_identifier::text as id from pg_control_system()',
    )
    systemId = (row as { id: string }).id
    database = testRoutedDatabase<DB>(servers.config(), { lagCheckIntervalMs: 20 })
    await waitFor(async () => database.replicas().every((replica) => replica.status === 'up'))
  })

  afterAll(async () => {
    await database?.close()
    await servers?.stop()
  })

  test(`${PAIRS} write-then-read pairs with synchronous_commit = off: no stale read`, {
    timeout: 120_000,
  }, async () => {
    const [setting] = await servers.cluster.primary.query<{ value: string }>(
      "select setting as value from pg_settings where name = 'synchronous_commit'",
    )
    expect(setting?.value).toBe('off')
    const history = await writeThenReadPairs(database, {
      pairs: PAIRS,
      concurrency: CONCURRENCY,
      prefix: `async-${via}`,
    })
    expectKept(history.verdict(servers.labelOf))
    // And session reads still go to replicas once they have replayed the commit.
    await expectBackOnReplicas(database, servers.labelOf, 'async caught up')
  })

  test('a token is short, header-safe and names this cluster, timeline and position', async () => {
    const token = await database.session(async () => {
      await database.db.insertInto('items').values({ name: 'token shape' }).execute()
      return database.consistencyToken() as string
    })
    expect(token.length).toBeLessThanOrEqual(60)
    expect(token).toMatch(/^[0-9A-Za-z./]+$/)
    const [, id, timeline] = token.split('.')
    expect(id).toBe(systemId)
    const [row] = await servers.cluster.primary.query<{ wal: string }>(
      'select pg_walfile_name(pg_current_wal_insert_lsn()) as wal',
    )
    expect(Number.parseInt(timeline as string, 16)).toBe(
      Number.parseInt(row?.wal.slice(0, 8) ?? '', 16),
    )
  })

  test('a replica on another timeline has not reached a token, whatever its LSN', async () => {
    // Position 0/1 on timeline 2: any replica of timeline 1 is past the LSN, on another history.
    const otherTimeline = formatToken({ systemId, timeline: 2, lsn: 1n })
    const sameTimeline = formatToken({ systemId, timeline: 1, lsn: 1n })
    const port = await database.withConsistency({ atLeast: otherTimeline }, () =>
      readPort(database.db),
    )
    expect(servers.labelOf(port)).toBe('primary')
    const replicaPort = await database.withConsistency({ atLeast: sameTimeline }, () =>
      readPort(database.db),
    )
    expect(servers.labelOf(replicaPort)).toMatch(/^replica-/)
  })

  test('latestToken() covers every committed write; newestToken() keeps the later one', async () => {
    const earlier = await database.latestToken()
    await database.primary.insertInto('items').values({ name: 'after earlier' }).execute()
    const later = await database.latestToken()
    expect(later).toMatch(/^v1\./)
    expect(database.newestToken(earlier, later)).toBe(later)
    expect(database.newestToken(later, earlier)).toBe(later)
    const row = await database.withConsistency({ atLeast: later }, () =>
      database.db
        .selectFrom('items')
        .select('id')
        .where('name', '=', 'after earlier')
        .executeTakeFirst(),
    )
    expect(row).toBeDefined()
    const foreign = formatToken({ systemId: '7000000000000000001', timeline: 1, lsn: 1n })
    expect(() => database.newestToken(later, foreign)).toThrow(
      expect.objectContaining({ code: 'CONSISTENCY_TOKEN_FOREIGN_CLUSTER' }),
    )
  })

  test('bad tokens are typed errors naming the problem', async () => {
    const read = (atLeast: unknown) =>
      database.withConsistency({ atLeast: atLeast as string }, () => readPort(database.db))
    const good = formatToken({ systemId, timeline: 1, lsn: 0x3000148n })
    const foreign = formatToken({ systemId: '7000000000000000001', timeline: 1, lsn: 1n })
    await expect(read(foreign)).rejects.toMatchObject({
      code: 'CONSISTENCY_TOKEN_FOREIGN_CLUSTER',
    })
    await expect(read('16/B374D848')).rejects.toMatchObject({ code: 'CONSISTENCY_TOKEN_FORMAT' })
    await expect(read(good.replace('v1.', 'v2.'))).rejects.toMatchObject({
      code: 'CONSISTENCY_TOKEN_FORMAT',
    })
    for (const cut of [good.slice(0, -1), good.slice(0, -6), good.slice(0, 10)]) {
      await expect(read(cut)).rejects.toMatchObject({ code: 'INVALID_CONSISTENCY_TOKEN' })
    }
    const huge = `v1.${'9'.repeat(100_000)}`
    const error = (await read(huge).then(
      () => undefined,
      (caught: unknown) => caught,
    )) as Error
    expect(error).toMatchObject({ code: 'INVALID_CONSISTENCY_TOKEN' })
    expect(error.message.length).toBeLessThan(200)
    await expect(read(42)).rejects.toMatchObject({ code: 'INVALID_CONSISTENCY_TOKEN' })
    expect(servers.labelOf(await read(good))).toMatch(/^(primary|replica-\d)$/)
  })
})
