import { parseConfig, type SluiceDatabase } from '@sluice/core'
import { metricValue } from '@sluice/testing/observability'
import { type Generated, sql } from 'kysely'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { prometheusInstrumentation } from '../src/prometheus/index.js'
import { freshDatabase, testDatabase, timeOutWaitingForPool, withPassword } from './helpers.js'

interface DB {
  accounts: { id: Generated<number>; email: string }
}

const POOL = 'db_client_connection_pool_name'
let url: string
let env: Readonly<Record<string, string>>
let name: string

beforeAll(async () => {
  // The server itself: these tests count the server's backends per pool connection, which only
  // holds with no pooler in between (pgbouncer.test.ts covers the metrics through PgBouncer).
  ;({ url, env, name } = await freshDatabase({}, { direct: true }))
  const setup = testDatabase(parseConfig({ ...env }))
  await sql`create table accounts (id serial primary key, email text unique not null)`.execute(
    setup.db,
  )
  await setup.close()
})

describe('prometheusInstrumentation', () => {
  const registry = new Registry()
  let database: SluiceDatabase<DB>
  beforeAll(() => {
    database = testDatabase<DB>(parseConfig({ ...env, DB_POOL_SIZE: '4' }), {
      instrumentation: prometheusInstrumentation({ registry }),
    })
  })
  afterAll(() => database.close())

  it('times every query by operation, server and error type', async () => {
    await Promise.all(
      Array.from({ length: 25 }, () => database.db.selectFrom('accounts').selectAll().execute()),
    )
    await database.db.insertInto('accounts').values({ email: 'a@example.com' }).execute()
    const duplicate = await database.db
      .insertInto('accounts')
      .values({ email: 'a@example.com' })
      .execute()
      .catch((error) => error)
    expect(duplicate).toMatchObject({ code: '23505' })

    const operations = (labels: Record<string, string>) =>
      metricValue(registry, 'db_client_operation_duration_seconds_count', {
        db_system_name: 'postgresql',
        sluice_target: 'primary',
        ...labels,
      })
    expect(await operations({ db_operation_name: 'SELECT', error_type: '' })).toBe(25)
    expect(await operations({ db_operation_name: 'INSERT', error_type: '' })).toBe(1)
    expect(await operations({ db_operation_name: 'INSERT', error_type: '23505' })).toBe(1)
    expect(
      await metricValue(registry, 'db_client_operation_duration_seconds_sum', {
        db_operation_name: 'SELECT',
      }),
    ).toBeGreaterThan(0)
    expect(
      await metricValue(registry, 'db_client_connection_wait_time_seconds_count', {
        [POOL]: 'primary',
      }),
    ).toBe(27)
  })

  it('counts open connections as the server sees them', async () => {
    // 4 queries at once open the whole pool; the server lists one backend per open connection.
    await Promise.all(
      Array.from({ length: 4 }, () => sql`select pg_sleep(0.05)`.execute(database.db)),
    )
    const { rows } = await sql<{ n: number }>`
      select count(*)::int as n from pg_stat_activity
      where datname = ${name} and backend_type = 'client backend'`.execute(database.db)
    expect(rows[0]?.n).toBe(4)
    expect(await metricValue(registry, 'sluice_pool_connections', { [POOL]: 'primary' })).toBe(4)
  })
})

it('counts acquire timeouts; two instrumentations on one registry share its metrics', async () => {
  const registry = new Registry()
  const config = parseConfig({ ...env, DB_POOL_SIZE: '1', DB_POOL_TIMEOUT: '200ms' })
  const first = testDatabase<DB>(config, {
    instrumentation: prometheusInstrumentation({ registry }),
  })
  const second = testDatabase<DB>(config, {
    instrumentation: prometheusInstrumentation({ registry }),
  })
  await timeOutWaitingForPool(first.db)
  await second.db.selectFrom('accounts').selectAll().execute()
  await Promise.all([first.close(), second.close()])
  expect(
    await metricValue(registry, 'db_client_connection_timeouts_total', { [POOL]: 'primary' }),
  ).toBe(1)
  // `select 1` on the held connection, and the second database's query.
  expect(await metricValue(registry, 'db_client_operation_duration_seconds_count')).toBe(2)
})

it('puts no password, connection string or parameter value in any metric', async () => {
  const registry = new Registry()
  const instrumentation = prometheusInstrumentation({ registry })
  const password = 'sw0rdfish-metrics'
  const wrong = testDatabase(parseConfig({ ...env, DATABASE_URL: withPassword(url, password) }), {
    instrumentation,
  })
  await expect(sql`select 1`.execute(wrong.db)).rejects.toMatchObject({
    code: 'AUTHENTICATION_FAILED',
  })
  await wrong.close()
  const right = testDatabase<DB>(parseConfig({ ...env }), { instrumentation })
  await right.db.selectFrom('accounts').selectAll().where('email', '=', 'param-value').execute()
  await right.close()
  const text = await registry.metrics()
  expect(text).toContain('db_client_operation_duration_seconds_count')
  for (const secret of [password, 'param-value', new URL(url).host, name]) {
    expect(text).not.toContain(secret)
  }
})
