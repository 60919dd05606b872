import { ConfigError, parseConfig, type SluiceError } from '@sluice/core'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  createRoutedDatabase,
  NoReplicaAvailableError,
  type RoutedDatabase,
  weighted,
} from '../src/index.js'
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

describe.each(VIAS)('routing (%s)', (via) => {
  let servers: TestCluster
  const open: RoutedDatabase<DB>[] = []
  const routed = (options: Parameters<typeof createRoutedDatabase>[1] = {}) => {
    const database = testRoutedDatabase<DB>(servers.config(), {
      lagCheckIntervalMs: 100,
      ...options,
    })
    open.push(database)
    return database
  }

  // One lag check, then none during a count: the split tests check the strategies alone, not
  // how the monitor copes with a loaded machine (lag.test.ts and failover.test.ts do).
  const settled = async (options: Parameters<typeof routed>[0] = {}) => {
    const database = routed({ ...options, lagCheckIntervalMs: 60_000 })
    await waitFor(async () => database.replicas().every((r) => r.status === 'up'), {
      what: 'both replicas to be checked and up',
    })
    return database
  }

  beforeAll(async () => {
    servers = await startTestCluster(via)
  })

  afterAll(async () => {
    await Promise.all(open.map((database) => database.close()))
    await servers?.stop()
  })

  test('3,000 reads split evenly over the replicas, none on the primary; writes on the primary', async () => {
    const database = await settled()
    const counts = await countReads(database.db, servers.labelOf, 3000)
    expect(counts.primary).toBeUndefined()
    expect(Math.abs((counts['replica-1'] ?? 0) - 1500)).toBeLessThanOrEqual(15)
    expect(Math.abs((counts['replica-2'] ?? 0) - 1500)).toBeLessThanOrEqual(15)

    const written = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        database.db
          .insertInto('items')
          .values({ name: `w${i}` })
          .returning(sql<number>`inet_server_port()`.as('port'))
          .executeTakeFirstOrThrow(),
      ),
    )
    expect(new Set(written.map((row) => servers.labelOf(row.port)))).toEqual(new Set(['primary']))
    expect(servers.labelOf(await readPort(database.primary))).toBe('primary')
  })

  test('weighted and least-in-flight strategies', async () => {
    const heavy = await settled({ strategy: weighted({ 'replica-1': 3, 'replica-2': 1 }) })
    const counts = await countReads(heavy.db, servers.labelOf, 400, 1)
    expect(counts).toEqual({ 'replica-1': 300, 'replica-2': 100 })

    // Least-in-flight: while one replica runs a slow read, every new read goes to the other
    // (round-robin would alternate). A loaded machine may make one replica slower, so a plain
    // count would not say much: this checks the rule itself, with the servers' own ports.
    const balanced = await settled({ strategy: 'least-in-flight' })
    const slow = balanced.db
      .selectNoFrom([sql`pg_sleep(3)`.as('slept'), sql<number>`inet_server_port()`.as('port')])
      .executeTakeFirstOrThrow()
    await waitFor(() => balanced.replicas().some((r) => r.inFlight === 1), {
      what: 'the slow read to be in flight',
    })
    const busy = balanced.replicas().find((r) => r.inFlight === 1)?.label
    const quick: string[] = []
    for (let i = 0; i < 5; i++) quick.push(servers.labelOf(await readPort(balanced.db)))
    expect(servers.labelOf((await slow).port)).toBe(busy)
    const idle = busy === 'replica-1' ? 'replica-2' : 'replica-1'
    expect(quick).toEqual(Array(5).fill(idle))
    const spread = await countReads(balanced.db, servers.labelOf, 400, 8)
    expect(spread.primary).toBeUndefined()
    expect(Object.keys(spread).sort()).toEqual(['replica-1', 'replica-2'])
  })

  test('least-in-flight counts the reads waiting for a replica’s pooled connection', async () => {
    // One connection per server: a second read routed to a replica waits for the first.
    const database = testRoutedDatabase<DB>(servers.config({ DB_POOL_SIZE: '1' }), {
      strategy: 'least-in-flight',
      lagCheckIntervalMs: 60_000,
    })
    open.push(database)
    await waitFor(async () => database.replicas().every((r) => r.status === 'up'))
    const slowRead = () =>
      database.db
        .selectNoFrom([sql`pg_sleep(2)`.as('slept'), sql<number>`inet_server_port()`.as('port')])
        .executeTakeFirstOrThrow()
    const inFlight = (total: number) =>
      waitFor(() => database.replicas().reduce((sum, r) => sum + r.inFlight, 0) === total, {
        what: `${total} reads in flight`,
      })
    // One slow read on each replica, then a third that waits for one of their connections.
    const first = slowRead()
    await inFlight(1)
    const second = slowRead()
    await inFlight(2)
    const waiting = slowRead()
    await inFlight(3)
    expect(
      database
        .replicas()
        .map((r) => r.inFlight)
        .sort(),
    ).toEqual([1, 2])
    // So the next read goes to the replica with no read waiting, not half the time to the other.
    const next = await readPort(database.db)
    const ports = await Promise.all([first, second, waiting])
    expect(new Set(ports.slice(0, 2).map((row) => servers.labelOf(row.port)))).toEqual(
      new Set(['replica-1', 'replica-2']),
    )
    expect(servers.labelOf(next)).not.toBe(servers.labelOf(ports[2]?.port as number))
  })

  test('a strategy that picks no candidate fails the read with a typed error', async () => {
    const broken = routed({ strategy: { name: 'broken', pick: () => 7 } })
    await expect(readPort(broken.db)).rejects.toMatchObject({
      code: 'INVALID_STRATEGY_PICK',
      message: expect.stringContaining('"broken" picked 7'),
    })
    // The strategy's failure leaves no state behind: a good read still works afterwards.
    expect(servers.labelOf(await readPort(broken.primary))).toBe('primary')
  })

  test('with every replica down, reads fall back to the primary, or fail when configured', async () => {
    const recorder = routeRecorder()
    const fallback = routed({ instrumentation: recorder })
    const strict = routed({ fallback: 'error' })
    await Promise.all(servers.cluster.replicas.map((replica) => replica.kill()))
    try {
      await waitFor(async () => servers.labelOf(await readPort(fallback.db)) === 'primary', {
        what: 'reads to fall back to the primary',
      })
      const counts = await countReads(fallback.db, servers.labelOf, 200)
      expect(counts).toEqual({ primary: 200 })
      const event = recorder.events.findLast((e) => e.reason === 'fallback')
      expect(event?.target).toBe('primary')
      expect(Object.keys(event?.skipped ?? {})).toEqual(['replica-1', 'replica-2'])

      await waitFor(async () => strict.replicas().every((r) => r.status === 'down'), {
        what: 'replicas to be marked down',
      })
      const error = await readPort(strict.db).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(NoReplicaAvailableError)
      expect((error as SluiceError).code).toBe('NO_REPLICA_AVAILABLE')
      expect((error as SluiceError).message).not.toContain(servers.cluster.primary.info.password)
    } finally {
      await Promise.all(servers.cluster.replicas.map((replica) => replica.start()))
    }
    await waitFor(() => strict.replicas().every((r) => r.status === 'up'), {
      what: 'replicas to be back',
    })
    const counts = await countReads(strict.db, servers.labelOf, 100)
    expect(counts.primary).toBeUndefined()
  })

  test('a promoted replica is no longer used as a replica', { timeout: 120_000 }, async () => {
    // Last in this file: it leaves replica-2 a primary of its own.
    const database = routed()
    await servers.cluster.replicas[1]?.promote()
    await waitFor(() => database.replicas()[1]?.status === 'promoted', {
      what: 'replica-2 to be seen as promoted',
    })
    const counts = await countReads(database.db, servers.labelOf, 100)
    expect(counts).toEqual({ 'replica-1': 100 })
  })
})

describe('bad input', () => {
  const config = () =>
    ({
      primary: { label: 'primary' },
      replicas: [{ label: 'replica-1' }, { label: 'replica-2' }],
    }) as unknown as Parameters<typeof createRoutedDatabase>[0]

  test('bad options are a ConfigError naming each one', () => {
    const error = (() => {
      try {
        createRoutedDatabase(config(), {
          maxLagMs: -1,
          fallback: 'sometimes' as 'error',
          strategy: 'random' as 'round-robin',
          writeFunctions: ['drop table x;'],
        })
      } catch (e) {
        return e
      }
    })()
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).issues.map((issue) => issue.field).sort()).toEqual([
      'fallback',
      'maxLagMs',
      'strategy',
      'writeFunctions.0',
    ])
  })

  test('replica URLs that are malformed, duplicated or the primary are rejected before routing', () => {
    const primary = 'postgres://app:secret@db:5432/app'
    const attempt = (replicas: string) => {
      try {
        const database = createRoutedDatabase(
          parseConfig({ DATABASE_URL: primary, DATABASE_REPLICA_URLS: replicas }),
        )
        void database.close()
      } catch (error) {
        return error as ConfigError
      }
    }
    const error = attempt(
      `not a url,${primary},postgres://app:secret@r1/app,postgres://app:secret@r1/app`,
    )
    expect(error).toBeInstanceOf(ConfigError)
    expect(error?.issues).toEqual([
      { field: 'DATABASE_REPLICA_URLS[0]', message: 'the URL is not a valid URL' },
      { field: 'DATABASE_REPLICA_URLS[1]', message: 'points at the same server as the primary' },
      { field: 'DATABASE_REPLICA_URLS[3]', message: 'points at the same server as replica 3' },
    ])
    expect(error?.message).not.toContain('secret')
    const many = Array.from({ length: 32 }, (_, i) => `postgres://app:secret@r${i}/app`)
    expect(attempt(many.join(','))?.issues).toEqual([
      { field: 'DATABASE_REPLICA_URLS', message: 'at most 31 replicas (got 32)' },
    ])
    expect(attempt(many.slice(1).join(','))).toBeUndefined()
  })

  test('weights must be positive and name configured replicas', () => {
    expect(() => weighted({ 'replica-1': 0 })).toThrow(ConfigError)
    expect(() =>
      createRoutedDatabase(config(), { strategy: weighted({ 'replica-9': 1 }) }),
    ).toThrow(/weights.replica-9: names no replica/)
  })

  test('a token that is not an LSN is rejected', async () => {
    const { parseLsn } = await import('../src/lsn.js')
    for (const token of ['', 'yesterday', '1/2/3', '0/XYZ', '123456789/0']) {
      expect(() => parseLsn(token)).toThrow(
        expect.objectContaining({ code: 'INVALID_CONSISTENCY_TOKEN' }),
      )
    }
    expect(parseLsn('16/B374D848')).toBe(0x16b374d848n)
  })
})
