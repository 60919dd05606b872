import { freePort, waitFor } from '@sluice/testing'
import { sharedPostgres } from '@sluice/testing/vitest'
import { sql } from 'kysely'
import type pg from 'pg'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  ConnectionError,
  createPool,
  PoolTimeoutError,
  parseConfig,
  StatementTimeoutError,
} from '../src/index.js'
import { SluiceDriver } from '../src/internal/index.js'
import { freshDatabase, testDatabase, withPassword } from './helpers.js'

const pools: pg.Pool[] = []
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.end()))
})
const track = (pool: pg.Pool) => {
  pools.push(pool)
  return pool
}

// These tests read the session of one server connection (its settings, its backend in
// pg_stat_activity, its lifetime): they go to the server itself, not through PgBouncer.
const DIRECT = { direct: true }

describe('createPool on a direct connection', () => {
  it('applies statement timeout, idle-in-transaction timeout and application name to every connection', async () => {
    const { config } = await freshDatabase(
      {
        DB_STATEMENT_TIMEOUT: '1234',
        DB_IDLE_IN_TRANSACTION_TIMEOUT: '4321',
        DB_APPLICATION_NAME: 'orders-api',
      },
      DIRECT,
    )
    const pool = track(createPool(config.primary))
    const clients = await Promise.all([pool.connect(), pool.connect()])
    for (const client of clients) {
      const { rows } = await client.query(
        `select current_setting('statement_timeout') as st,
                current_setting('idle_in_transaction_session_timeout') as iit,
                application_name from pg_stat_activity where pid = pg_backend_pid()`,
      )
      expect(rows[0]).toEqual({ st: '1234ms', iit: '4321ms', application_name: 'orders-api' })
      client.release()
    }
  })

  it('a statement past the timeout is cancelled by the server and rejects with STATEMENT_TIMEOUT', async () => {
    const { config } = await freshDatabase({ DB_STATEMENT_TIMEOUT: '200' }, DIRECT)
    const pool = track(createPool(config.primary))
    const error = await pool.query('select pg_sleep(5)').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(StatementTimeoutError)
    expect(error).toMatchObject({ code: 'STATEMENT_TIMEOUT', cause: { code: '57014' } })
    // an unrelated SQL error passes through as pg's DatabaseError
    await expect(pool.query('select 1/0')).rejects.toMatchObject({ code: '22012' })
  })

  it('through the Kysely client too, for queries and streams; an early cancel is not a timeout', async () => {
    const short = testDatabase(
      (await freshDatabase({ DB_STATEMENT_TIMEOUT: '200' }, DIRECT)).config,
    )
    const { config } = await freshDatabase({ DB_STATEMENT_TIMEOUT: '20s' }, DIRECT)
    const long = testDatabase(config)
    const canceller = track(createPool(config.primary))
    try {
      await expect(sql`select pg_sleep(5)`.execute(short.db)).rejects.toBeInstanceOf(
        StatementTimeoutError,
      )
      const stream = short.db.selectNoFrom(sql<string>`pg_sleep(5)`.as('slept')).stream()
      await expect(stream.next()).rejects.toBeInstanceOf(StatementTimeoutError)
      // Cancelled by someone else well before the timeout: pg's own error, not STATEMENT_TIMEOUT.
      const running = sql`select pg_sleep(5) as cancel_me`.execute(long.db).catch((e) => e)
      await waitFor(async () => {
        const { rows } = await canceller.query(
          `select pg_cancel_backend(pid) as done from pg_stat_activity
           where query like '%as cancel_me' and pid <> pg_backend_pid()`,
        )
        return rows[0]?.done === true
      })
      const cancelled = await running
      expect(cancelled).toMatchObject({ code: '57014' })
      expect(cancelled).not.toBeInstanceOf(StatementTimeoutError)
    } finally {
      await Promise.all([short.close(), long.close()])
    }
  })

  it('an exhausted pool rejects with POOL_TIMEOUT instead of hanging', async () => {
    const { config } = await freshDatabase({ DB_POOL_SIZE: '1', DB_POOL_TIMEOUT: '150' }, DIRECT)
    const pool = track(createPool(config.primary))
    // The 150 ms also bounds connecting: on a loaded machine the first connect may need a retry.
    const held = await vi.waitFor(() => pool.connect(), { timeout: 10_000, interval: 50 })
    const driver = new SluiceDriver(pool, config.primary)
    const error = await driver.acquireConnection().catch((e: unknown) => e)
    held.release()
    expect(error).toBeInstanceOf(PoolTimeoutError)
    expect((error as Error).message).toContain('150 ms')
  })

  it('replaces connections older than the max lifetime', async () => {
    const { config } = await freshDatabase(
      { DB_POOL_SIZE: '1', DB_POOL_MAX_LIFETIME: '1s' },
      DIRECT,
    )
    const pool = track(createPool(config.primary))
    const pid = async () =>
      (await pool.query('select pg_backend_pid() as pid')).rows[0].pid as number
    const first = await pid()
    const second = await waitFor(async () => ((await pid()) !== first ? true : undefined), {
      what: 'a recycled connection',
      intervalMs: 100,
    })
    expect(second).toBe(true)
    const [row] = await sharedPostgres().primary.query<{ n: number }>(
      'select count(*)::int as n from pg_stat_activity where pid = $1',
      [first],
    )
    expect(row?.n).toBe(0) // the old backend is gone on the server
  })

  it('ends sessions idle inside a transaction past the timeout', async () => {
    const { config } = await freshDatabase({ DB_IDLE_IN_TRANSACTION_TIMEOUT: '200' }, DIRECT)
    const pool = track(createPool(config.primary))
    const client = await pool.connect()
    client.on('error', () => {})
    await client.query('begin')
    const { rows } = await client.query('select pg_backend_pid() as pid')
    await waitFor(
      async () => {
        const [row] = await sharedPostgres().primary.query<{ n: number }>(
          'select count(*)::int as n from pg_stat_activity where pid = $1',
          [rows[0].pid],
        )
        return row?.n === 0
      },
      { what: 'the server to end the idle transaction' },
    )
    client.release(true)
  })
})

describe('connection failures are typed and never show the password', () => {
  it('unreachable host: CONNECTION_FAILED', async () => {
    const config = parseConfig({
      DATABASE_URL: `postgres://app:hunter2@127.0.0.1:${await freePort()}/app`,
    })
    const pool = track(createPool(config.primary))
    const error = await new SluiceDriver(pool, config.primary)
      .acquireConnection()
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConnectionError)
    expect(error).toMatchObject({ code: 'CONNECTION_FAILED', context: { target: 'primary' } })
    expect(String((error as Error).message)).not.toContain('hunter2')
  })

  it('wrong password: AUTHENTICATION_FAILED', async () => {
    const { url, env } = await freshDatabase()
    const config = parseConfig({ ...env, DATABASE_URL: withPassword(url, 'hunter2') })
    const pool = track(createPool(config.primary))
    const error = await new SluiceDriver(pool, config.primary)
      .acquireConnection()
      .catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'AUTHENTICATION_FAILED' })
    expect(
      JSON.stringify({ message: (error as Error).message, ...(error as object) }),
    ).not.toContain('hunter2')
  })
})
