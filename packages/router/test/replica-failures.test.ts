import { closeSync, openSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import type { TargetConfig } from '@sluice/core'
import type { PostgresServer, ReplicaServer } from '@sluice/testing'
import { type Kysely, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { asRead, type createRoutedDatabase, type RoutedDatabase } from '../src/index.js'
import {
  type DB,
  preferring,
  readPort,
  routeRecorder,
  startTestCluster,
  type TestCluster,
  testRoutedDatabase,
  VIAS,
  waitFor,
} from './helpers.js'

describe.each(VIAS)('replica-specific failures (%s)', (via) => {
  let servers: TestCluster
  const open: RoutedDatabase<DB>[] = []
  const routed = (
    options: Parameters<typeof createRoutedDatabase>[1] = {},
    config = servers.config(),
  ) => {
    const database = testRoutedDatabase<DB>(config, {
      lagCheckIntervalMs: 100,
      strategy: preferring('replica-1'),
      ...options,
    })
    open.push(database)
    return database
  }
  const up = (database: RoutedDatabase<DB>) =>
    waitFor(async () => database.replicas().every((replica) => replica.status === 'up'), {
      what: 'both replicas up',
    })

  beforeAll(async () => {
    servers = await startTestCluster(via)
  })

  afterAll(async () => {
    await Promise.all(open.map((database) => database.close()))
    await servers?.stop()
  })

  // Recognised by its SQLSTATE alone (see failureKind), so a standby whose lc_messages is not
  // English is retried the same. No test runs one with another language: lc_messages needs an
  // operating-system locale, and this machine has only C, C.utf8 and POSIX (`locale -a`), in
  // which the server's messages are English whatever else is set.
  test('a read cancelled by a recovery conflict (40001) is retried on another server', async () => {
    const replica = servers.cluster.replicas[0] as ReplicaServer
    // Conflicting queries on this replica are cancelled at once instead of delaying replay.
    replica.configure(['max_standby_streaming_delay = 0'])
    await replica.query('select pg_reload_conf()')
    const recorder = routeRecorder()
    const database = routed({ instrumentation: recorder })
    await up(database)
    await servers.cluster.primary.query("insert into items (name) values ('conflict')")
    await servers.cluster.waitForReplay()
    const read = database.db
      .selectFrom('items')
      .select([sql<number>`inet_server_port()`.as('port'), sql`pg_sleep(1.5)`.as('slept')])
      .limit(1)
      .execute()
    // Once the read holds its lock on replica-1, a replayed ACCESS EXCLUSIVE lock conflicts.
    await waitFor(async () => {
      const rows = await replica.query<{ n: number }>(
        "select count(*)::int as n from pg_stat_activity where query like '%pg_sleep(1.5)%' and state = 'active' and pid <> pg_backend_pid()",
      )
      return (rows[0]?.n ?? 0) > 0
    })
    await servers.cluster.primary.query('alter table items add column conflict_probe int')
    const rows = await read
    expect(rows.length).toBeGreaterThan(0)
    expect(servers.labelOf(rows[0]?.port as number)).not.toBe('replica-1')
    const retry = recorder.events.find((event) => event.reason === 'retry')
    expect(retry?.error).toMatchObject({ code: '40001' })
    replica.configure(['max_standby_streaming_delay = 30s'])
    await replica.query('select pg_reload_conf()')
  })

  test('a statement a standby refuses as a write is retried on the primary and routed there from then on', async () => {
    const recorder = routeRecorder()
    const database = routed({ instrumentation: recorder })
    await up(database)
    // Marked as a read by mistake: each one writes (25006, 55000 on a standby).
    const mistakes = [
      asRead(sql<{ v: string }>`select nextval('item_numbers')::text as v`),
      asRead(sql<{ v: string }>`select pg_current_wal_lsn()::text as v`),
      asRead(sql<{ v: string }>`select lo_create(0)::text as v`),
    ]
    for (const query of mistakes) {
      recorder.events.length = 0
      const first = await query.execute(database.db)
      expect(first.rows).toHaveLength(1)
      expect(recorder.events.map((event) => event.reason)).toContain('reclassified')
      recorder.events.length = 0
      await query.execute(database.db)
      expect(recorder.events).toEqual([
        expect.objectContaining({
          role: 'primary',
          reason: 'write',
          classification: 'standby-rejected',
        }),
      ])
    }
  })

  test('read-only transactions on replicas survive a replica refusing connections; SERIALIZABLE ones run on the primary', async () => {
    const database = routed({ readOnlyTransactions: 'replica', lagCheckIntervalMs: 60_000 })
    await up(database)
    const portOf = (isolation?: 'serializable') => {
      let builder = database.db.transaction().setAccessMode('read only')
      if (isolation) builder = builder.setIsolationLevel(isolation)
      return builder.execute((trx) => readPort<DB>(trx))
    }
    expect(servers.labelOf(await portOf())).toBe('replica-1')
    expect(servers.labelOf(await portOf('serializable'))).toBe('primary')
    const replica = servers.cluster.replicas[0] as PostgresServer
    // The monitor checks once a minute: the router still believes replica-1 is up.
    await replica.stop()
    try {
      const ports = await Promise.all(Array.from({ length: 10 }, () => portOf()))
      expect(new Set(ports.map(servers.labelOf))).toEqual(new Set(['replica-2']))
      expect(database.replicas()[0]?.status).toBe('down')
    } finally {
      await replica.start()
    }
  })

  test('a read naming what a replica has not replayed yet (42P01, 42703) runs on the primary; a wrong name still fails', async () => {
    const replicas = servers.cluster.replicas as ReplicaServer[]
    const recorder = routeRecorder()
    // However long replay stays paused, the replicas stay within the lag bounds.
    const database = routed({ instrumentation: recorder, maxLagMs: 3_600_000 })
    await up(database)
    const db = database.db as unknown as Kysely<{
      migrated: { id: number }
      items: { id: number; migrated: number | null }
    }>
    const port = sql<number>`inet_server_port()`.as('port')
    await Promise.all(replicas.map((replica) => replica.pauseReplay()))
    try {
      // A migration on the primary that no replica has replayed yet.
      await servers.cluster.primary.query(
        'create table migrated (id int); insert into migrated values (1); alter table items add column migrated int',
      )
      const reads = [
        db.selectFrom('migrated').select(['id', port]),
        db.selectFrom('items').select(['migrated', port]).limit(1),
      ]
      for (const read of reads) {
        recorder.events.length = 0
        const rows = await read.execute()
        expect(servers.labelOf(rows[0]?.port as number)).toBe('primary')
        expect(recorder.events.map(({ target, reason }) => `${target} ${reason}`)).toEqual([
          'replica-1 read',
          'primary retry',
        ])
      }
      expect(recorder.events[1]?.error).toMatchObject({ code: '42703' })
      // A name the primary does not know either: the primary's own error.
      await expect(
        db
          .selectFrom('nowhere' as 'migrated')
          .selectAll()
          .execute(),
      ).rejects.toMatchObject({ code: '42P01' })
      // The replicas were only passed over for this read: the next one is theirs again.
      expect(database.replicas().map((replica) => replica.status)).toEqual(['up', 'up'])
      expect(servers.labelOf(await readPort(database.db))).toBe('replica-1')
    } finally {
      await Promise.all(replicas.map((replica) => replica.resumeReplay()))
      await servers.cluster.waitForReplay()
    }
  })

  test('a read a replica answers from a corrupted page (XX001) is retried on another server', async () => {
    const primary = servers.cluster.primary
    const replica = servers.cluster.replicas[0] as ReplicaServer
    // Frozen and hinted before the checkpoint, and never vacuumed or read on the primary after
    // it: no later WAL (a full-page image) rewrites the page on the replica.
    await primary.query(
      "create table fragile (id int, body text) with (autovacuum_enabled = false); insert into fragile select n, 'row ' || n from generate_series(1, 100) n",
    )
    await primary.query('vacuum (freeze) fragile')
    await primary.query('checkpoint')
    await servers.cluster.waitForReplay()
    const [file] = await replica.query<{ path: string }>(
      "select pg_relation_filepath('fragile') as path",
    )
    // A clean stop writes a restartpoint after the table's WAL, so the restart replays none of it.
    await replica.stop()
    const fd = openSync(join(replica.dataDir, file?.path as string), 'r+')
    writeSync(fd, Buffer.alloc(24, 0xff), 0, 24, 0) // block 0's page header
    closeSync(fd)
    await replica.start()
    try {
      const recorder = routeRecorder()
      const database = routed({ instrumentation: recorder })
      await up(database)
      const db = database.db as unknown as Kysely<{ fragile: { id: number } }>
      const read = () =>
        db
          .selectFrom('fragile')
          .select([sql<number>`inet_server_port()`.as('port'), sql<number>`count(*)::int`.as('n')])
          .executeTakeFirstOrThrow()
      const row = await read()
      expect(row.n).toBe(100)
      expect(servers.labelOf(row.port)).not.toBe('replica-1')
      expect(recorder.events.map(({ target, reason }) => `${target} ${reason}`)).toEqual([
        'replica-1 read',
        'replica-2 retry',
      ])
      expect(recorder.events[1]?.error).toMatchObject({ code: 'XX001' })
      // Only this read was passed over: replica-1 is still up, and fails the same way again.
      expect(database.replicas().map((state) => state.status)).toEqual(['up', 'up'])
      await expect(replica.query('select count(*) from fragile')).rejects.toMatchObject({
        code: 'XX001',
      })
    } finally {
      await primary.query('drop table fragile')
      await servers.cluster.waitForReplay()
    }
  })

  test('a read whose backend a replica terminates (57P01, pg_terminate_backend) is retried on another server', async () => {
    const replica = servers.cluster.replicas[0] as ReplicaServer
    const recorder = routeRecorder()
    const database = routed({ instrumentation: recorder })
    await up(database)
    const read = database.db
      .selectNoFrom([sql<number>`inet_server_port()`.as('port'), sql`pg_sleep(1.2)`.as('slept')])
      .executeTakeFirstOrThrow()
    const running = "query like '%pg_sleep(1.2)%' and state = 'active' and pid <> pg_backend_pid()"
    await waitFor(async () => {
      const rows = await replica.query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity where ${running}`,
      )
      return (rows[0]?.n ?? 0) > 0
    })
    await replica.query(`select pg_terminate_backend(pid) from pg_stat_activity where ${running}`)
    const row = await read
    expect(servers.labelOf(row.port)).not.toBe('replica-1')
    expect(recorder.events.map(({ target, reason }) => `${target} ${reason}`)).toEqual([
      'replica-1 read',
      'replica-2 retry',
    ])
    expect(recorder.events[1]?.error).toMatchObject({ code: 'CONNECTION_LOST' })
  })

  test('a read the server cancels for its statement_timeout (57014) is retried once, on the primary', async () => {
    const recorder = routeRecorder()
    const database = routed(
      { instrumentation: recorder },
      servers.config({ DB_STATEMENT_TIMEOUT: '300ms' }),
    )
    await up(database)
    await expect(
      database.db.selectNoFrom(sql`pg_sleep(5)`.as('slept')).execute(),
    ).rejects.toMatchObject({ code: 'STATEMENT_TIMEOUT' })
    // Slow everywhere: a server's statement timeout on a replica is retried once, on the
    // primary only (two timeouts, never three). On a loaded machine the client-side deadline
    // (DEADLINE_EXCEEDED) can fire before the server's 57014 and is retried as documented.
    const [first, ...retries] = recorder.events
    expect(first).toMatchObject({ target: 'replica-1', reason: 'read' })
    expect(retries.map((event) => event.reason)).not.toContain('read')
    expect(retries.at(-1)?.target).toBe('primary')
    const timeoutRetries = retries.filter(
      (event) => (event.error as { code?: string } | undefined)?.code === 'STATEMENT_TIMEOUT',
    )
    expect(timeoutRetries.length).toBeLessThanOrEqual(1)
    expect(timeoutRetries.every((event) => event.target === 'primary')).toBe(true)
  })

  test('a read a replica refuses for a privilege it has not replayed yet (42501) runs on the primary', async () => {
    const primary = servers.cluster.primary
    const replicas = servers.cluster.replicas as ReplicaServer[]
    await primary.query(
      "create role late_reader login password 'late-secret'; grant pg_monitor to late_reader",
    )
    await servers.cluster.waitForReplay()
    const base = servers.config()
    const as = (target: TargetConfig) =>
      `postgres://late_reader:late-secret@${target.host}:${target.port}/${target.database}`
    const config = servers.config({
      DATABASE_URL: as(base.primary),
      DATABASE_REPLICA_URLS: base.replicas.map(as).join(','),
    })
    const recorder = routeRecorder()
    // However long replay stays paused, the replicas stay within the lag bounds.
    const database = routed({ instrumentation: recorder, maxLagMs: 3_600_000 }, config)
    await up(database)
    const count = () =>
      database.db
        .selectFrom('items')
        .select([sql<number>`inet_server_port()`.as('port'), sql<number>`count(*)::int`.as('n')])
        .executeTakeFirstOrThrow()
    await Promise.all(replicas.map((replica) => replica.pauseReplay()))
    try {
      // The GRANT is on the primary only, for now.
      await primary.query('grant select on items to late_reader')
      const row = await count()
      expect(servers.labelOf(row.port)).toBe('primary')
      expect(recorder.events.map(({ target, reason }) => `${target} ${reason}`)).toEqual([
        'replica-1 read',
        'primary retry',
      ])
      expect(recorder.events[1]?.error).toMatchObject({ code: '42501' })
      expect(database.replicas().map((state) => state.status)).toEqual(['up', 'up'])
    } finally {
      await Promise.all(replicas.map((replica) => replica.resumeReplay()))
      await servers.cluster.waitForReplay()
    }
    // Once replayed, the replicas serve it; revoked everywhere, the primary's own error.
    expect(servers.labelOf((await count()).port)).toBe('replica-1')
    await primary.query('revoke select on items from late_reader')
    await servers.cluster.waitForReplay()
    await expect(count()).rejects.toMatchObject({ code: '42501' })
  })

  test("fallback: 'error' still serves reads that carry a token, on the primary", async () => {
    const replicas = servers.cluster.replicas as ReplicaServer[]
    await Promise.all(replicas.map((replica) => replica.pauseReplay()))
    try {
      const database = routed({ fallback: 'error' })
      await up(database)
      await database.session(async () => {
        await database.db.insertInto('items').values({ name: 'fallback error' }).execute()
        const row = await database.db
          .selectFrom('items')
          .select((eb) => eb.fn<number>('inet_server_port', []).as('port'))
          .where('name', '=', 'fallback error')
          .executeTakeFirst()
        expect(servers.labelOf(row?.port ?? 0)).toBe('primary')
      })
    } finally {
      await Promise.all(replicas.map((replica) => replica.resumeReplay()))
    }
  })
})
