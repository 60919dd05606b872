import { createServer, type Server, type Socket } from 'node:net'
import { freePort } from '@sluice/testing'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ConfigError,
  ConnectionError,
  DatabaseNotReadyError,
  parseConfig,
  type SluiceDatabase,
} from '../src/index.js'
import { freshDatabase, testDatabase, withPassword } from './helpers.js'

const databases: SluiceDatabase<unknown>[] = []
// The profile's environment (DB_POOLER_MODE behind PgBouncer) with `overrides`.
const open = (overrides: Record<string, string>) => {
  const database = testDatabase(parseConfig({ ...env, ...overrides }))
  databases.push(database)
  return database
}
// A server that accepts connections and never answers: only a deadline ends a wait on it.
let silent: Server
const silentSockets = new Set<Socket>()
let silentPort: number
let url: string
let env: Readonly<Record<string, string>>
let name: string
beforeAll(async () => {
  // In the production profile through PgBouncer, which answers refusals with its own 08P01.
  ;({ url, env, name } = await freshDatabase())
  silent = createServer((socket) => silentSockets.add(socket))
  silentPort = await freePort()
  await new Promise<void>((resolve) => silent.listen(silentPort, '127.0.0.1', resolve))
})
afterAll(async () => {
  await Promise.all(databases.map((database) => database.close()))
  for (const socket of silentSockets) socket.destroy()
  await new Promise((resolve) => silent.close(resolve))
})

async function notReady(database: SluiceDatabase<unknown>, timeoutMs?: number) {
  const error = await database.ready(timeoutMs === undefined ? {} : { timeoutMs }).catch((e) => e)
  expect(error).toBeInstanceOf(DatabaseNotReadyError)
  expect(error.code).toBe('DATABASE_NOT_READY')
  const [failure] = (error as DatabaseNotReadyError).failures
  expect(failure?.target).toBe('primary')
  return { error: error as DatabaseNotReadyError, cause: failure?.error }
}

describe('ready()', () => {
  it('resolves when the primary accepts the configured credentials and database', async () => {
    await expect(open({ DATABASE_URL: url }).ready()).resolves.toBeUndefined()
  })

  it('fails fast, naming the primary and why, for a wrong password or database name', async () => {
    const password = await notReady(open({ DATABASE_URL: withPassword(url, 'hunter2') }))
    expect(password.cause).toBeInstanceOf(ConnectionError)
    expect(password.cause).toMatchObject({ code: 'AUTHENTICATION_FAILED' })
    expect(password.error.message).toContain('primary (127.0.0.1:')
    expect(password.error.message).not.toContain('hunter2')
    const typo = new URL(url)
    typo.pathname = `/${name}_typo`
    const database = await notReady(open({ DATABASE_URL: typo.toString() }))
    expect(database.cause).toMatchObject({ code: 'DATABASE_NOT_FOUND' })
    expect(database.error.message).toContain('DATABASE_NOT_FOUND')
  })

  it('fails within its deadline on a server that never answers, and at once on a closed port', async () => {
    const started = performance.now()
    const silentUrl = `postgres://app:hunter2@127.0.0.1:${silentPort}/app`
    const { cause } = await notReady(open({ DATABASE_URL: silentUrl, DB_POOL_TIMEOUT: '5s' }), 300)
    expect(cause).toMatchObject({ code: 'CONNECT_TIMEOUT' })
    // The deadline is 300 ms; the bound leaves room for a busy machine. An expiry that waited
    // for an unrelated event to wake the loop (an unreferenced immediate) took 2.6 s to 5 s.
    expect(performance.now() - started).toBeLessThan(2_000)
    const closed = `postgres://app:hunter2@127.0.0.1:${await freePort()}/app`
    expect((await notReady(open({ DATABASE_URL: closed }))).cause).toMatchObject({
      code: 'CONNECTION_FAILED',
    })
  })
})

describe('timeouts of ready() and close()', () => {
  it('a timeoutMs that is not a number of milliseconds is a ConfigError, and closes nothing', async () => {
    const database = open({ DATABASE_URL: url })
    for (const timeoutMs of [Number.NaN, -1, Number.POSITIVE_INFINITY]) {
      await expect(database.ready({ timeoutMs })).rejects.toBeInstanceOf(ConfigError)
      await expect(database.close({ timeoutMs })).rejects.toMatchObject({
        code: 'CONFIG_INVALID',
        issues: [{ field: 'timeoutMs', message: 'must be a number of milliseconds, 0 or more' }],
      })
    }
    const { rows } = await sql<{ up: boolean }>`select true as up`.execute(database.db)
    expect(rows).toEqual([{ up: true }])
  })
})

describe('health()', () => {
  it('after close() reports every server down with DATABASE_CLOSED', async () => {
    const database = open({ DATABASE_URL: url })
    expect((await database.health()).status).toBe('up')
    await database.close()
    const report = await database.health()
    expect(report.status).toBe('down')
    expect(report.targets).toEqual([
      expect.objectContaining({
        target: 'primary',
        status: 'down',
        error: { code: 'DATABASE_CLOSED', message: 'The database has been closed' },
      }),
    ])
    expect((await notReady(database)).cause).toMatchObject({ code: 'DATABASE_CLOSED' })
  })

  it('reports DATABASE_CLOSED from the moment close() starts, while in-flight work drains', async () => {
    const database = open({ DATABASE_URL: url })
    let release = () => {}
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    let begun = () => {}
    const running = new Promise<void>((resolve) => {
      begun = resolve
    })
    // A transaction holds its connection until released: close() waits for it.
    const inFlight = database.db.transaction().execute(async (trx) => {
      await sql`select 1`.execute(trx)
      begun()
      await held
    })
    await running
    const closing = database.close({ timeoutMs: 30_000 })
    await expect(sql`select 1`.execute(database.db)).rejects.toMatchObject({
      code: 'DATABASE_CLOSED',
    })
    const report = await database.health()
    expect(report.status).toBe('down')
    expect(report.targets[0]?.error?.code).toBe('DATABASE_CLOSED')
    expect((await notReady(database)).cause).toMatchObject({ code: 'DATABASE_CLOSED' })
    release()
    await inFlight
    await closing
  })
})
