import { type Generated, sql } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  ConfigError,
  ConnectionError,
  createDatabase,
  parseConfig,
  type SluiceDatabase,
} from '../src/index.js'
import { freshDatabase, testDatabase } from './helpers.js'

interface DB {
  users: { id: Generated<number>; name: string }
  posts: { id: Generated<number>; title: string }
  codes: { code: string }
}

/** One afterCommit call: the tables, and how many users rows another connection saw then. */
interface Call {
  readonly tables: readonly string[]
  readonly usersSeenOutside: number
}

let database: SluiceDatabase<DB>
let outside: pg.Client
let calls: Call[] = []
let failNext = false

beforeAll(async () => {
  const { url, env } = await freshDatabase()
  outside = new pg.Client({ connectionString: url })
  await outside.connect()
  database = testDatabase<DB>(parseConfig({ ...env }), {
    // Runs a query on another connection: it sees the write only if it has committed, and the
    // write's caller must not get control back before this finishes.
    afterCommit: async (tables) => {
      const { rows } = await outside.query('select count(*)::int as n from users')
      calls.push({ tables, usersSeenOutside: rows[0].n })
      if (failNext) {
        failNext = false
        throw new Error('callback failed')
      }
    },
  })
  await sql`create table users (id serial primary key, name text not null)`.execute(database.db)
  await sql`create table posts (id serial primary key, title text)`.execute(database.db)
  await sql`create table codes (code text unique deferrable initially deferred)`.execute(
    database.db,
  )
})
afterAll(async () => {
  await database?.close()
  await outside?.end()
})
beforeEach(async () => {
  await outside.query('truncate users, posts, codes')
  calls = []
})

const addUser = (name: string) => database.db.insertInto('users').values({ name })

describe('afterCommit', () => {
  it('reports a statement outside a transaction after it committed, before it returns', async () => {
    await addUser('ada').execute()
    expect(calls).toEqual([{ tables: ['users'], usersSeenOutside: 1 }])
    await database.db.selectFrom('users').selectAll().execute()
    await database.db.updateTable('users as u').set({ name: 'bob' }).execute()
    expect(calls.map((call) => call.tables)).toEqual([['users'], ['users']])
  })

  it('reports a transaction once, after COMMIT, with every table it wrote', async () => {
    await database.db.transaction().execute(async (trx) => {
      await trx.insertInto('users').values({ name: 'ada' }).execute()
      await trx.insertInto('posts').values({ title: 'hello' }).execute()
      await trx.deleteFrom('posts').where('title', '=', 'none').execute()
      expect(calls).toEqual([])
    })
    expect(calls).toEqual([{ tables: ['posts', 'users'], usersSeenOutside: 1 }])
  })

  it('reports nothing for a rolled-back transaction or a read-only one', async () => {
    const rolledBack = database.db.transaction().execute(async (trx) => {
      await trx.insertInto('users').values({ name: 'ada' }).execute()
      throw new Error('abort')
    })
    await expect(rolledBack).rejects.toThrow('abort')
    await database.db.transaction().execute((trx) => trx.selectFrom('users').selectAll().execute())
    expect(calls).toEqual([])
  })

  it('reports nothing when the server turns COMMIT into ROLLBACK or COMMIT fails', async () => {
    // A failed statement whose error is swallowed: the COMMIT that follows rolls back.
    await database.db.transaction().execute(async (trx) => {
      await trx.insertInto('users').values({ name: 'ada' }).execute()
      await sql`select 1 / 0`.execute(trx).catch(() => undefined)
    })
    // A deferred unique constraint fails at COMMIT.
    const commit = database.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('codes')
        .values([{ code: 'a' }, { code: 'a' }])
        .execute()
    })
    await expect(commit).rejects.toMatchObject({ code: '23505' })
    expect(calls).toEqual([])
    // The connection is fine afterwards, and the tracking too.
    await addUser('bob').execute()
    expect(calls).toEqual([{ tables: ['users'], usersSeenOutside: 1 }])
  })

  it('keeps writes made before a rolled-back savepoint', async () => {
    const trx = await database.db.startTransaction().execute()
    await trx.insertInto('posts').values({ title: 'kept' }).execute()
    const inner = await trx.savepoint('inner').execute()
    await inner.insertInto('users').values({ name: 'undone' }).execute()
    await inner.rollbackToSavepoint('inner').execute()
    expect(calls).toEqual([])
    await trx.commit().execute()
    expect(calls).toHaveLength(1)
    expect(calls[0]?.tables).toContain('posts')
    expect(calls[0]?.usersSeenOutside).toBe(0)
  })

  it('follows BEGIN and COMMIT sent as raw SQL on one connection', async () => {
    await database.db.connection().execute(async (connection) => {
      await sql`begin`.execute(connection)
      await connection.insertInto('users').values({ name: 'ada' }).execute()
      expect(calls).toEqual([])
      await sql`commit`.execute(connection)
      expect(calls).toEqual([{ tables: ['users'], usersSeenOutside: 1 }])
    })
  })

  it('sees data-modifying CTEs and streamed writes', async () => {
    await addUser('ada').execute()
    calls = []
    await database.db
      .with('gone', (db) => db.deleteFrom('users').returning('id'))
      .selectFrom('gone')
      .selectAll()
      .execute()
    expect(calls).toEqual([{ tables: ['users'], usersSeenOutside: 0 }])
    const streamed = database.db
      .insertInto('users')
      .values([{ name: 'a' }, { name: 'b' }, { name: 'c' }])
      .returning('id')
      .stream(1)
    for await (const _row of streamed) break
    expect(calls.at(-1)).toEqual({ tables: ['users'], usersSeenOutside: 3 })
  })

  it('reports writes whose outcome is unknown because the connection dropped', async () => {
    const dropped = database.db.transaction().execute(async (trx) => {
      await trx.insertInto('posts').values({ title: 'lost' }).execute()
      const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx)
      await outside.query('select pg_terminate_backend($1)', [rows[0]?.pid])
    })
    await expect(dropped).rejects.toBeInstanceOf(ConnectionError)
    expect(calls.map((call) => call.tables)).toEqual([['posts']])
  })

  it('returns the committed write even when the callback throws', async () => {
    failNext = true
    await addUser('ada').execute()
    expect(calls).toHaveLength(1)
    const { count } = await database.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<string>().as('count'))
      .executeTakeFirstOrThrow()
    expect(Number(count)).toBe(1)
  })

  it('rejects an afterCommit that is not a function', () => {
    const config = parseConfig({ DATABASE_URL: 'postgres://u:secret@127.0.0.1:5/db' })
    const create = () => createDatabase(config, { afterCommit: 'nope' as never })
    expect(create).toThrow(ConfigError)
    expect(create).toThrow(/afterCommit: must be a function/)
  })
})
