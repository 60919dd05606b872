import type { SluiceDatabase } from '@sluice/core'
import { sql } from 'kysely'
import { afterAll, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest'
import { tableTag } from '../src/index.js'
import { freshDatabase, freshNamespace, testCache } from './helpers.js'

interface DB {
  profiles: { id: number; name: string }
}

const namespace = freshNamespace()
// Two app instances on one Redis, each with its own L1; writes go through the first.
const cache = testCache({ namespace })
const other = testCache({ namespace })
let database: SluiceDatabase<DB>
let plain: SluiceDatabase<DB>

beforeAll(async () => {
  const fresh = await freshDatabase('write_path')
  database = fresh.open<DB>({}, { afterCommit: cache.invalidateOnCommit })
  plain = fresh.open<DB>()
  await sql`create table profiles (id int primary key, name text not null)`.execute(database.db)
  await Promise.all([cache.ready(), other.ready()])
})
afterAll(async () => {
  await database?.close()
  await plain?.close()
})
beforeEach(async () => {
  await sql`truncate profiles`.execute(plain.db)
  await plain.db.insertInto('profiles').values({ id: 1, name: 'ada' }).execute()
  await cache.invalidateTags([tableTag('profiles')])
})

const profileQuery = (db: SluiceDatabase<DB>['db']) =>
  db.selectFrom('profiles').select('name').where('id', '=', 1)
const cachedName = async (through = cache) =>
  (await through.query(profileQuery(database.db), { ttlMs: 60_000 }))[0]?.name
// Another instance's L1 copy goes when the bus message arrives, within milliseconds.
const otherSees = (name: string) =>
  vi.waitFor(async () => expect(await cachedName(other)).toBe(name), { timeout: 1000, interval: 5 })
const loads = () => cache.events.filter((event) => event.kind === 'load').length

describe('write-path invalidation (afterCommit: cache.invalidateOnCommit)', () => {
  test('an update, then a read through cache.query, sees the new row', async () => {
    expect(await cachedName()).toBe('ada')
    expect(await cachedName(other)).toBe('ada')
    await database.db.updateTable('profiles').set({ name: 'bob' }).where('id', '=', 1).execute()
    expect(await cachedName()).toBe('bob')
    await otherSees('bob')
    await database.db.transaction().execute(async (trx) => {
      await trx.updateTable('profiles').set({ name: 'cy' }).where('id', '=', 1).execute()
      // Not before COMMIT: inside the transaction the cache still serves the committed value.
      expect(await cachedName()).toBe('bob')
    })
    expect(await cachedName()).toBe('cy')
    await otherSees('cy')
  })

  test('a rolled-back update leaves the cached value, without reloading it', async () => {
    expect(await cachedName()).toBe('ada')
    const before = loads()
    const update = database.db.transaction().execute(async (trx) => {
      await trx.updateTable('profiles').set({ name: 'bob' }).where('id', '=', 1).execute()
      throw new Error('rolled back')
    })
    await expect(update).rejects.toThrow('rolled back')
    expect(await cachedName()).toBe('ada')
    expect(loads()).toBe(before)
    const { name } = await profileQuery(plain.db).executeTakeFirstOrThrow()
    expect(name).toBe('ada')
  })

  test('a database without the option leaves the cache alone (opt-in)', async () => {
    expect(await cachedName()).toBe('ada')
    await plain.db.updateTable('profiles').set({ name: 'bob' }).where('id', '=', 1).execute()
    expect(await cachedName()).toBe('ada')
    await cache.invalidateTags([tableTag('public.profiles')])
    expect(await cachedName()).toBe('bob')
  })
})
