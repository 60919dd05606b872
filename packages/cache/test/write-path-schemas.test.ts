import { createDatabase, parseConfig, type SluiceDatabase } from '@sluice/core'
import { sql } from 'kysely'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { tableTag } from '../src/index.js'
import { freshDatabase, testCache } from './helpers.js'

interface Row {
  id: number
  name: string
}
interface DB {
  users: Row
  'app.users': Row
  'public.users': Row
  Users: Row
}

const cache = testCache()
let database: SluiceDatabase<DB>

beforeAll(async () => {
  const fresh = await freshDatabase('write_path_schemas')
  // Set up on the primary itself: the database's search_path must be in place before any
  // pooled server connection to it exists (PgBouncer in transaction mode keeps no per-session
  // SET, so the database's own setting is how a search path reaches every connection).
  const setup = createDatabase<DB>(parseConfig({ DATABASE_URL: fresh.directUrl }))
  await sql`create schema app`.execute(setup.db)
  for (const table of [sql`app.users`, sql`public.users`, sql`public."Users"`]) {
    await sql`create table ${table} (id int primary key, name text not null)`.execute(setup.db)
  }
  await sql`insert into app.users values (1, 'app')`.execute(setup.db)
  await sql`insert into public.users values (1, 'public')`.execute(setup.db)
  await sql`insert into public."Users" values (1, 'Users')`.execute(setup.db)
  await sql`do $$ begin execute format('alter database %I set search_path = app, public', current_database()); end $$`.execute(
    setup.db,
  )
  await setup.close()
  database = fresh.open<DB>({}, { afterCommit: (tables) => cache.invalidateOnCommit(tables) })
  await cache.ready()
  await cache.learnDependencies(database.db)
})
afterAll(() => database?.close())

const nameOf = async (table: 'users' | 'app.users' | 'public.users' | 'Users') =>
  (await cache.query(database.db.selectFrom(table).select('name').where('id', '=', 1)))[0]?.name
const rename = (table: 'app.users' | 'public.users' | 'Users', name: string) =>
  database.db.updateTable(table).set({ name }).where('id', '=', 1).execute()
const misses = () => cache.events.filter((event) => event.kind === 'miss').length

test('search_path app, public: `users` and `app.users` are one table, and one tag', async () => {
  // What the server resolves `users` to, through the same pool (PgBouncer in the profile).
  const { rows } = await sql<{
    path: string[]
  }>`select current_schemas(false)::text[] as path`.execute(database.db)
  expect(rows[0]?.path).toEqual(['app', 'public'])
  expect(await nameOf('users')).toBe('app')
  await rename('app.users', 'app-2')
  expect(await nameOf('users')).toBe('app-2')
  expect(await nameOf('app.users')).toBe('app-2')
  await rename('app.users', 'app-3') // the entry read as `app.users` goes too
  expect(await nameOf('app.users')).toBe('app-3')
  expect(await nameOf('users')).toBe('app-3')
})

test('two schemas with a `users` table: a write to one leaves the other’s entries', async () => {
  expect(await nameOf('users')).toBe('app-3')
  expect(await nameOf('public.users')).toBe('public')
  const before = misses()
  await rename('public.users', 'public-2')
  expect(await nameOf('public.users')).toBe('public-2') // invalidated: a miss
  expect(await nameOf('users')).toBe('app-3') // app.users: still cached
  expect(misses()).toBe(before + 1)
})

test('"Users" and users: one tag exactly when one table', async () => {
  expect(tableTag('"Users"')).toBe(tableTag('Users'))
  expect(tableTag('"Users"')).not.toBe(tableTag('users'))
  expect(tableTag('public."Users"')).toBe('table:Users')
  expect(await nameOf('Users')).toBe('Users')
  await rename('app.users', 'app-4') // another table: `Users` stays cached
  const before = misses()
  expect(await nameOf('Users')).toBe('Users')
  expect(misses()).toBe(before)
  await cache.invalidateTags([tableTag('"Users"')]) // the tag users write by hand
  await rename('Users', 'Users-2')
  expect(await nameOf('Users')).toBe('Users-2')
})

test('a tag given by hand (cache.tableTag) names the table the search path finds', async () => {
  expect(cache.tableTag('users')).toBe('table:app.users')
  expect(cache.tableTag('public.users')).toBe(tableTag('users'))
  expect(await nameOf('users')).toBe('app-4')
  // A write Sluice does not see (raw SQL, unqualified: the server resolves it to app.users).
  await sql`update users set name = 'raw' where id = 1`.execute(database.db)
  await cache.invalidateTags([cache.tableTag('users')])
  expect(await nameOf('users')).toBe('raw')
  expect(await nameOf('app.users')).toBe('raw')
})
