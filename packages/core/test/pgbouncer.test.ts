import { prometheusInstrumentation } from '@sluice/observability/prometheus'
import { type PgBouncer, startPgBouncer, waitFor } from '@sluice/testing'
import { metricValue } from '@sluice/testing/observability'
import { sharedPostgres } from '@sluice/testing/vitest'
import { sql } from 'kysely'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type Instrumentation,
  parseConfig,
  type QueryEndEvent,
  type SluiceDatabase,
  StatementTimeoutError,
} from '../src/index.js'
import { freshDatabase, testDatabase } from './helpers.js'

const bouncers: PgBouncer[] = []
const databases: SluiceDatabase<unknown>[] = []
let name: string

beforeAll(async () => {
  ;({ name } = await freshDatabase())
})
afterAll(async () => {
  await Promise.all(databases.map((database) => database.close()))
  await Promise.all(bouncers.map((bouncer) => bouncer.stop()))
})

async function throughBouncer(
  poolMode: 'session' | 'transaction',
  instrumentation?: Instrumentation | readonly Instrumentation[],
): Promise<SluiceDatabase<unknown>> {
  const bouncer = await startPgBouncer({
    upstream: sharedPostgres().primary,
    poolMode,
    poolSize: 4,
  })
  bouncers.push(bouncer)
  const database = testDatabase(
    parseConfig({
      DATABASE_URL: bouncer.url(name),
      DB_POOLER_MODE: poolMode,
      DB_STATEMENT_TIMEOUT: '300',
      DB_IDLE_IN_TRANSACTION_TIMEOUT: '400',
      DB_APPLICATION_NAME: `via-${poolMode}`,
    }),
    { instrumentation },
  )
  databases.push(database)
  return database
}

const serverSees = async (fragment: string) =>
  (
    await sharedPostgres().primary.query<{ n: number }>(
      "select count(*)::int as n from pg_stat_activity where state = 'active' and query like $1 and pid <> pg_backend_pid()",
      [`%${fragment}%`],
    )
  )[0]?.n ?? 0

describe('session settings through a real PgBouncer in transaction mode', () => {
  let database: SluiceDatabase<unknown>
  let closed = 0
  beforeAll(async () => {
    database = await throughBouncer('transaction', {
      onPoolEvent: (event) => {
        if (event.kind === 'connection-closed') closed++
      },
    })
  })

  it('cancels a statement past the timeout on the server, outside and inside transactions', async () => {
    const outside = await sql`select pg_sleep(5) as outside_tx`.execute(database.db).catch((e) => e)
    expect(outside).toBeInstanceOf(StatementTimeoutError)
    expect(await serverSees('outside_tx')).toBe(0)
    // The client that sent the cancel request is closed, not handed to the next query.
    await waitFor(() => closed === 1)
    const inside = await database.db
      .transaction()
      .execute((trx) => sql`select pg_sleep(5) as inside_tx`.execute(trx))
      .catch((e) => e)
    expect(inside).toBeInstanceOf(StatementTimeoutError)
    expect(await serverSees('inside_tx')).toBe(0)
  })

  it('applies the timeouts inside each transaction and the application name on the server', async () => {
    const settings = await database.db.transaction().execute(async (trx) => {
      const { rows } = await sql<{ st: string; iit: string; app: string }>`
        select current_setting('statement_timeout') as st,
               current_setting('idle_in_transaction_session_timeout') as iit,
               (select application_name from pg_stat_activity where pid = pg_backend_pid()) as app`.execute(
        trx,
      )
      return rows[0]
    })
    expect(settings).toEqual({ st: '300ms', iit: '400ms', app: 'via-transaction' })
    // SET LOCAL does not leak into the next transaction on the shared server connection
    const { rows } = await sql<{
      st: string
    }>`select current_setting('statement_timeout') as st`.execute(database.db)
    expect(rows[0]?.st).toBe('0')
  })

  it('ends a transaction left idle past the idle-in-transaction timeout', async () => {
    const trx = await database.db.startTransaction().execute()
    const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx)
    await waitFor(
      async () =>
        (
          await sharedPostgres().primary.query<{ n: number }>(
            'select count(*)::int as n from pg_stat_activity where pid = $1',
            [rows[0]?.pid],
          )
        )[0]?.n === 0,
      { what: 'the server to end the idle transaction' },
    )
    await expect(sql`select 1`.execute(trx)).rejects.toThrow()
    await trx
      .rollback()
      .execute()
      .catch(() => undefined)
  })
})

describe('instrumentation through a real PgBouncer in transaction mode', () => {
  const ends: QueryEndEvent[] = []
  const registry = new Registry()
  let database: SluiceDatabase<unknown>
  beforeAll(async () => {
    database = await throughBouncer('transaction', [
      prometheusInstrumentation({ registry }),
      { onQueryEnd: (event) => ends.push(event) },
    ])
    await sql`create table notes (id int primary key)`.execute(database.db)
  })

  it('runs a transaction whose BEGIN carries its SET LOCALs (several results) and reports it', async () => {
    ends.length = 0
    const inside = await database.db.transaction().execute(async (trx) => {
      await sql`insert into notes values (1), (2)`.execute(trx)
      const { rows } = await sql<{ st: string }>`
        select current_setting('statement_timeout') as st`.execute(trx)
      return rows[0]?.st
    })
    expect(inside).toBe('300ms')
    const [seen] = await sharedPostgres().primary.query<{ n: number }>(
      'select count(*)::int as n from notes',
      [],
      name,
    )
    expect(seen?.n).toBe(2)
    expect(
      ends.map((event) => [event.operation.toLowerCase(), event.rowCount, event.error]),
    ).toEqual([
      ['begin', 0, undefined],
      ['insert', 2, undefined],
      ['select', 1, undefined],
      ['commit', 0, undefined],
    ])
    const operations = (db_operation_name: string) =>
      metricValue(registry, 'db_client_operation_duration_seconds_count', { db_operation_name })
    expect([await operations('BEGIN'), await operations('COMMIT')]).toEqual([1, 1])
  })

  it('returns the last result of any multi-statement query, whatever its shape', async () => {
    ends.length = 0
    const { rows, numAffectedRows } = await sql<{ b: number }>`
      select 1 as a; update notes set id = id where id = 1; set local lock_timeout = 10; ; select 2 as b`.execute(
      database.db,
    )
    expect(rows).toEqual([{ b: 2 }])
    expect(numAffectedRows).toBeUndefined()
    const updated = await sql`select 1 as a; update notes set id = id`.execute(database.db)
    expect(updated.rows).toEqual([])
    expect(updated.numAffectedRows).toBe(2n)
    expect(ends.map((event) => [event.rowCount, event.error])).toEqual([
      [1, undefined],
      [2, undefined],
    ])
  })
})

describe('session settings through a real PgBouncer in session mode', () => {
  it('sets the timeouts once per server session', async () => {
    const database = await throughBouncer('session')
    const { rows } = await sql<{ st: string; iit: string }>`
      select current_setting('statement_timeout') as st,
             current_setting('idle_in_transaction_session_timeout') as iit`.execute(database.db)
    expect(rows[0]).toEqual({ st: '300ms', iit: '400ms' })
    await expect(sql`select pg_sleep(5)`.execute(database.db)).rejects.toBeInstanceOf(
      StatementTimeoutError,
    )
  })
})
