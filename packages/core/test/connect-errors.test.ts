import { testProfile, waitFor } from '@sluice/testing'
import { sharedPostgres } from '@sluice/testing/vitest'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConnectionError, parseConfig, type SluiceDatabase } from '../src/index.js'
import { isDatabaseError } from '../src/internal/index.js'
import { freshDatabase, testDatabase, withPassword } from './helpers.js'

const databases: SluiceDatabase<unknown>[] = []
const open = (url: string, settings: Readonly<Record<string, string>> = env) => {
  const database = testDatabase(
    parseConfig({ ...settings, DATABASE_URL: url, DB_POOL_TIMEOUT: '5s' }),
  )
  databases.push(database)
  return database
}
afterAll(async () => {
  await Promise.all(databases.map((database) => database.close()))
})

let url: string
let env: Readonly<Record<string, string>>
let name: string
// In the production profile, through PgBouncer: it answers the server's refusals (3D000,
// 53300, 55000) and its own (a wrong password) with 08P01 and a text of its own.
let behindPgBouncer: boolean
const role = `limited_${process.pid}`
beforeAll(async () => {
  let directUrl: string
  ;({ url, env, name, directUrl } = await freshDatabase())
  behindPgBouncer = url !== directUrl
  const primary = sharedPostgres().primary
  await primary.query(`create role ${role} login password 'hunter2' connection limit 0`)
  await primary.query(`create database ${name}_closed`)
  await primary.query(`alter database ${name}_closed allow_connections false`)
})
afterAll(async () => {
  const primary = sharedPostgres().primary
  await primary.query(`alter database ${name}_closed allow_connections true`)
  await primary.query(`drop database ${name}_closed`)
  await primary.query(`drop database if exists ${name}_gone with (force)`)
  await primary.query(`drop role ${role}`)
})

/** The error a query fails with, and the same error as health() reports it. */
async function failure(databaseUrl: string, settings?: Readonly<Record<string, string>>) {
  const database = open(databaseUrl, settings)
  const error = await sql`select 1`.execute(database.db).catch((e: unknown) => e)
  const report = await database.health()
  return { error, health: report.targets[0]?.error }
}

describe('errors raised while connecting are ConnectionErrors naming the target', () => {
  const withDatabase = (database: string) => {
    const parsed = new URL(url)
    parsed.pathname = `/${database}`
    return parsed.toString()
  }
  const withUser = (user: string) => {
    const parsed = new URL(url)
    parsed.username = user
    parsed.password = 'hunter2'
    return parsed.toString()
  }
  it.each([
    [
      'a database name with a typo',
      () => withDatabase(`${name}_typo`),
      'DATABASE_NOT_FOUND',
      '3D000',
    ],
    ['a wrong password', () => withPassword(url, 'hunter2'), 'AUTHENTICATION_FAILED', '28P01'],
    ['a role over its connection limit', () => withUser(role), 'TOO_MANY_CONNECTIONS', '53300'],
    [
      'a database that allows no connections',
      () => withDatabase(`${name}_closed`),
      'CONNECTION_REJECTED',
      '55000',
    ],
  ])('%s', async (_, makeUrl, code, serverSqlState) => {
    const { error, health } = await failure(makeUrl())
    expect(error).toBeInstanceOf(ConnectionError)
    // PgBouncer 1.20+ passes the server's SQLSTATE on; older ones, like its own refusals, 08P01.
    const sqlState = (error as ConnectionError).context.sqlState
    expect(behindPgBouncer ? [serverSqlState, '08P01'] : [serverSqlState]).toContain(sqlState)
    expect(error).toMatchObject({ code, context: { target: 'primary', sqlState } })
    const cause = (error as Error).cause
    expect(isDatabaseError(cause) && cause.code).toBe(sqlState)
    const { message } = error as Error
    expect(message).toContain(`primary (127.0.0.1:${new URL(url).port}/`)
    expect(JSON.stringify({ message, ...(error as object), health })).not.toContain('hunter2')
    // Behind PgBouncer, the health check's connection is refused with "server login has been
    // failing" (no reason given before PgBouncer 1.24): it keeps the code of the refusal before.
    expect(health?.code).toBe(code)
  })

  it.runIf(testProfile().name === 'production')(
    'behind PgBouncer, a refusal that answers a query ("server login has been failing") is a ConnectionError',
    async () => {
      // In transaction mode PgBouncer logs in to the server when a query needs a connection:
      // once a database it served refuses logins, its queries get PgBouncer's 08P01.
      const gone = `${name}_gone`
      const primary = sharedPostgres().primary
      await primary.query(`create database ${gone}`)
      const parsed = new URL(url)
      parsed.pathname = `/${gone}`
      const database = open(parsed.toString())
      await sql`select 1`.execute(database.db)
      await primary.query(`alter database ${gone} allow_connections false`)
      await primary.query(
        'select pg_terminate_backend(pid) from pg_stat_activity where datname = $1',
        [gone],
      )
      const error = await waitFor(
        async () => {
          const failed = await sql`select 1`.execute(database.db).catch((e: unknown) => e)
          return /server login has been failing/.test(String((failed as Error).message)) && failed
        },
        { timeoutMs: 60_000, what: 'PgBouncer to say its logins keep failing' },
      )
      expect(error).toBeInstanceOf(ConnectionError)
      expect(error).toMatchObject({ code: 'CONNECTION_REJECTED', context: { sqlState: '08P01' } })
      expect((error as Error).message).toMatch(
        /refused the connection: server login has been failing.*(PgBouncer's log has the server's reason|the refusal before)/,
      )
      expect(isDatabaseError((error as Error).cause)).toBe(true)
      await primary.query(`alter database ${gone} allow_connections true`)
    },
  )
})

describe('the same refusals through the test profile (PgBouncer in production)', () => {
  it('a database name with a typo is DATABASE_NOT_FOUND, also when PgBouncer forwards it', async () => {
    // PgBouncer answers with its own 08P01, quoting the server: 'database "x" does not exist'.
    const profile = await freshDatabase()
    const typo = new URL(profile.url)
    typo.pathname = `/${name}_typo`
    const { error, health } = await failure(typo.toString(), profile.env)
    expect(error).toBeInstanceOf(ConnectionError)
    expect(error).toMatchObject({ code: 'DATABASE_NOT_FOUND', context: { target: 'primary' } })
    expect((error as Error).message).toContain(`${name}_typo`)
    expect(health?.code).toBe('DATABASE_NOT_FOUND')
  })
})

describe('errors of a query are still pg DatabaseErrors', () => {
  it('whatever their SQLSTATE, even one a refused connection would have', async () => {
    const database = open(url)
    const missing = await sql`select * from no_such_table`.execute(database.db).catch((e) => e)
    expect(isDatabaseError(missing) && missing.code).toBe('42P01')
    const raised = await sql`do $$ begin raise exception 'no db' using errcode = '3D000'; end $$`
      .execute(database.db)
      .catch((e) => e)
    expect(raised).not.toBeInstanceOf(ConnectionError)
    expect(isDatabaseError(raised) && raised.code).toBe('3D000')
    // The connection that ran them is fine: the server still answers on it.
    const { rows } = await sql<{ n: number }>`select 1 as n`.execute(database.db)
    expect(rows).toEqual([{ n: 1 }])
  })
})
