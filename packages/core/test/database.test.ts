import { freePort } from '@sluice/testing'
import { sharedPostgres } from '@sluice/testing/vitest'
import { type Generated, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  DatabaseClosedError,
  type Instrumentation,
  type PoolEvent,
  parseConfig,
  type QueryEndEvent,
  type QueryStartEvent,
  type SluiceDatabase,
} from '../src/index.js'
import { freshDatabase, testDatabase, timeOutWaitingForPool } from './helpers.js'

interface DB {
  users: { id: Generated<number>; name: string }
  posts: { id: Generated<number>; user_id: number; title: string }
}

const starts: QueryStartEvent[] = []
const ends: QueryEndEvent[] = []
const poolEvents: PoolEvent[] = []
const recorder: Instrumentation = {
  onQueryStart: (e) => starts.push(e),
  onQueryEnd: (e) => ends.push(e),
  onPoolEvent: (e) => poolEvents.push(e),
}
let database: SluiceDatabase<DB>
let env: Readonly<Record<string, string>>

beforeAll(async () => {
  ;({ env } = await freshDatabase())
  database = testDatabase<DB>(parseConfig({ ...env, DB_SLOW_QUERY_MS: '100' }), {
    instrumentation: [
      recorder,
      {
        onQueryEnd: () => {
          throw new Error('broken hook')
        },
      },
    ],
  })
  await database.db.schema
    .createTable('users')
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .execute()
  await database.db.schema
    .createTable('posts')
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('user_id', 'integer')
    .addColumn('title', 'text')
    .execute()
})
afterAll(() => database?.close())

const lastEnd = () => ends.at(-1) as QueryEndEvent

describe('createDatabase', () => {
  it('runs Kysely queries, transactions and savepoints on the configured server', async () => {
    const trx = await database.db.startTransaction().execute()
    await trx.insertInto('users').values({ name: 'ada' }).execute()
    const sp = await trx.savepoint('before "bob"').execute()
    await sp.insertInto('users').values({ name: 'bob' }).execute()
    await sp.rollbackToSavepoint('before "bob"').execute()
    await trx.commit().execute()
    const names = await database.db.selectFrom('users').select('name').execute()
    expect(names).toEqual([{ name: 'ada' }])
    const { rows } = await sql<{ port: number }>`select inet_server_port() as port`.execute(
      database.db,
    )
    expect(rows[0]?.port).toBe(sharedPostgres().primary.port)
  })

  it('reports query start and end with operation, tables from the operation tree, rows and duration', async () => {
    ends.length = 0
    await database.db
      .with('recent', (db) => db.selectFrom('posts').select(['user_id', 'title']))
      .selectFrom('users')
      .innerJoin('recent', 'recent.user_id', 'users.id')
      .select(['users.name', 'recent.title'])
      .execute()
    expect(lastEnd()).toMatchObject({
      operation: 'SELECT',
      tables: ['posts', 'users'],
      target: 'primary',
      slow: false,
    })
    expect(starts.some((s) => s.queryId === lastEnd().queryId)).toBe(true)
    await database.db
      .insertInto('posts')
      .values([
        { user_id: 1, title: 'a' },
        { user_id: 1, title: 'b' },
      ])
      .execute()
    expect(lastEnd()).toMatchObject({ operation: 'INSERT', tables: ['posts'], rowCount: 2 })
    expect(lastEnd().durationMs).toBeGreaterThan(0)
    expect(lastEnd().sql).not.toContain("'a'") // parameters never appear in events
    await sql`select pg_sleep(0.15)`.execute(database.db)
    expect(lastEnd()).toMatchObject({ operation: 'SELECT', tables: [], slow: true })
  })

  it('reports the SQLSTATE of a failed query, which rejects with pg DatabaseError untouched', async () => {
    const error = await database.db
      .insertInto('users')
      .values({ id: 1, name: 'dup' })
      .execute()
      .catch((e) => e)
    expect(error.constructor.name).toBe('DatabaseError')
    expect(error.code).toBe('23505')
    expect(lastEnd()).toMatchObject({ operation: 'INSERT', sqlState: '23505', error })
  })

  it('reports pool events: opened connections and acquire waits', () => {
    expect(poolEvents.some((e) => e.kind === 'connection-opened' && e.target === 'primary')).toBe(
      true,
    )
    expect(poolEvents.some((e) => e.kind === 'acquire' && e.waitMs >= 0)).toBe(true)
  })

  it('reports acquire timeouts and closed connections', async () => {
    const events: PoolEvent[] = []
    const small = testDatabase<DB>(
      parseConfig({ ...env, DB_POOL_SIZE: '1', DB_POOL_TIMEOUT: '200ms' }),
      { instrumentation: { onPoolEvent: (e) => events.push(e) } },
    )
    await timeOutWaitingForPool(small.db)
    const timeout = events.find((e) => e.kind === 'acquire-timeout')
    expect(timeout).toMatchObject({ target: 'primary' })
    expect(timeout?.kind === 'acquire-timeout' && timeout.waitMs).toBeGreaterThanOrEqual(150)
    await small.close()
    // pg-pool reports a removed client once its socket has closed, just after end() resolves.
    await expect
      .poll(() => events.filter((e) => e.kind === 'connection-closed'))
      .toEqual([{ kind: 'connection-closed', target: 'primary' }])
  })

  it('health reports reachability, latency and pool counts', async () => {
    const report = await database.health()
    expect(report.status).toBe('up')
    expect(report.targets[0]).toMatchObject({ target: 'primary', role: 'primary', status: 'up' })
    expect(report.targets[0]?.latencyMs).toBeGreaterThan(0)
    expect(report.targets[0]?.pool.total).toBeGreaterThanOrEqual(1)
    const down = testDatabase(
      parseConfig({ DATABASE_URL: `postgres://app:hunter2@127.0.0.1:${await freePort()}/x` }),
    )
    const downReport = await down.health()
    await down.close()
    expect(downReport).toMatchObject({
      status: 'down',
      targets: [{ status: 'down', error: { code: 'CONNECTION_FAILED' } }],
    })
    expect(JSON.stringify(downReport)).not.toContain('hunter2')
  })
})

describe('close()', () => {
  it('lets in-flight queries finish, then refuses new ones with DATABASE_CLOSED', async () => {
    const db = testDatabase<DB>(parseConfig({ ...env }))
    const running = sql<{ done: number }>`select 1 as done from pg_sleep(0.3)`.execute(db.db)
    await waitUntilRunning('pg_sleep(0.3)')
    await db.close({ timeoutMs: 10_000 })
    expect((await running).rows).toEqual([{ done: 1 }])
    await expect(db.db.selectFrom('users').selectAll().execute()).rejects.toBeInstanceOf(
      DatabaseClosedError,
    )
    await db.close() // idempotent
  })

  it('cuts off queries still running after the timeout', async () => {
    const db = testDatabase<DB>(parseConfig({ ...env }))
    const running = sql`select pg_sleep(30)`.execute(db.db).catch((e: unknown) => e)
    await waitUntilRunning('pg_sleep(30)')
    await db.close({ timeoutMs: 100 })
    expect(await running).toMatchObject({ code: 'CONNECTION_LOST' })
  })
})

async function waitUntilRunning(fragment: string): Promise<void> {
  const { waitFor } = await import('@sluice/testing')
  await waitFor(async () => {
    const rows = await sharedPostgres().primary.query<{ n: number }>(
      "select count(*)::int as n from pg_stat_activity where state = 'active' and query like $1",
      [`%${fragment}%`],
    )
    return (rows[0]?.n ?? 0) > 0
  })
}
