import type { SluiceDatabase } from '@sluice/core'
import { sql } from 'kysely'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { freshDatabase, testCache } from './helpers.js'

interface DB {
  authors: { id: number; name: string }
  posts: { id: number; author_id: number | null; title: string }
  post_titles: { title: string }
  orders: { id: number; total: number }
  order_totals: { sum: number }
  named_authors: { id: number; name: string }
  events: { id: number; kind: string }
  events_a: { id: number; kind: string }
  events_b: { id: number; kind: string }
}

const cache = testCache()
let database: SluiceDatabase<DB>

beforeAll(async () => {
  database = (await freshDatabase('write_path_deps')).open<DB>(
    {},
    { afterCommit: (tables) => cache.invalidateOnCommit(tables) },
  )
  await sql`create table authors (id int primary key, name text not null)`.execute(database.db)
  await sql`create table posts (id int primary key, author_id int references authors on delete cascade, title text not null)`.execute(
    database.db,
  )
  await sql`create view post_titles as select title from posts`.execute(database.db)
  await sql`create view named_authors as select id, name from authors`.execute(database.db)
  await database.db.insertInto('authors').values({ id: 1, name: 'ada' }).execute()
  await database.db.insertInto('posts').values({ id: 1, author_id: 1, title: 'first' }).execute()
  await cache.ready()
})
afterAll(() => database?.close())

test('ON DELETE CASCADE and views: a write to the parent invalidates what read the child and the view', async () => {
  const posts = () => cache.query(database.db.selectFrom('posts').select('title'))
  const titles = () => cache.query(database.db.selectFrom('post_titles').select('title'))
  expect(await posts()).toEqual([{ title: 'first' }])
  expect(await titles()).toEqual([{ title: 'first' }])
  await cache.learnDependencies(database.db)
  // Only `authors` is written; the cascade removes the post.
  await database.db.deleteFrom('authors').where('id', '=', 1).execute()
  expect(await posts()).toEqual([])
  expect(await titles()).toEqual([])
})

test('a write through an updatable view invalidates what read the table under it', async () => {
  await database.db.insertInto('authors').values({ id: 2, name: 'grace' }).execute()
  const name = async () =>
    (await cache.query(database.db.selectFrom('authors').select('name').where('id', '=', 2)))[0]
  expect(await name()).toEqual({ name: 'grace' })
  await cache.learnDependencies(database.db)
  // Only the view is named; PostgreSQL rewrites the update onto authors.
  await database.db
    .updateTable('named_authors')
    .set({ name: 'hopper' })
    .where('id', '=', 2)
    .execute()
  const row = await sql<{ name: string }>`select name from authors where id = 2`.execute(
    database.db,
  )
  expect(row.rows).toEqual([{ name: 'hopper' }])
  expect(await name()).toEqual({ name: 'hopper' })
})

test('partitions: a write to a partition invalidates what read its parent, and the reverse', async () => {
  await sql`create table events (id int, kind text) partition by list (kind)`.execute(database.db)
  await sql`create table events_a partition of events for values in ('a')`.execute(database.db)
  await sql`create table events_b partition of events for values in ('b')`.execute(database.db)
  await cache.learnDependencies(database.db)
  const count = async (table: 'events' | 'events_a' | 'events_b') =>
    (await cache.query(database.db.selectFrom(table).select('id'))).length
  expect([await count('events'), await count('events_a'), await count('events_b')]).toEqual([
    0, 0, 0,
  ])
  await database.db.insertInto('events_a').values({ id: 1, kind: 'a' }).execute()
  expect(await count('events')).toBe(1)
  await database.db.insertInto('events').values({ id: 2, kind: 'b' }).execute()
  expect([await count('events'), await count('events_b')]).toEqual([2, 1])
  // A sibling's entry is not invalidated by a write to another partition.
  const hits = cache.events.filter((event) => event.kind === 'hit').length
  await database.db.insertInto('events_a').values({ id: 3, kind: 'a' }).execute()
  expect(await count('events_b')).toBe(1)
  expect(cache.events.filter((event) => event.kind === 'hit').length).toBe(hits + 1)
})

test('a trigger’s effects, declared with `dependencies`', async () => {
  const declared = testCache({
    namespace: 'deps-declared',
    dependencies: { orders: ['order_totals'] },
  })
  const writes = (await freshDatabase('write_path_trigger')).open<DB>(
    {},
    { afterCommit: (tables) => declared.invalidateOnCommit(tables) },
  )
  try {
    await sql`create table orders (id int primary key, total int not null)`.execute(writes.db)
    await sql`create table order_totals (sum int not null)`.execute(writes.db)
    await sql`insert into order_totals values (0)`.execute(writes.db)
    await sql`create function bump_total() returns trigger language plpgsql as $$
      begin update order_totals set sum = sum + new.total; return new; end $$`.execute(writes.db)
    await sql`create trigger orders_total after insert on orders for each row execute function bump_total()`.execute(
      writes.db,
    )
    const total = async () =>
      (await declared.query(writes.db.selectFrom('order_totals').select('sum')))[0]?.sum
    expect(await total()).toBe(0)
    await writes.db.insertInto('orders').values({ id: 1, total: 5 }).execute()
    expect(await total()).toBe(5)
  } finally {
    await writes.close()
  }
})
