import type { SluiceDatabase } from '@sluice/core'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { freshDatabase, gate, testCache } from './helpers.js'

interface DB {
  counters: { id: number; value: number }
}

const ITERATIONS = 10_000
let database: SluiceDatabase<DB>

beforeAll(async () => {
  database = (await freshDatabase('stale_set')).open<DB>()
  await database.db.schema
    .createTable('counters')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('value', 'integer', (c) => c.notNull())
    .execute()
  await database.db.insertInto('counters').values({ id: 1, value: 0 }).execute()
})

afterAll(() => database?.close())

const readValue = async () =>
  (
    await database.db
      .selectFrom('counters')
      .select('value')
      .where('id', '=', 1)
      .executeTakeFirstOrThrow()
  ).value

test(`stale-set torture: ${ITERATIONS} loads overtaken by an update + invalidation, no stale value served after it`, {
  timeout: 300_000,
}, async () => {
  const cache = testCache()
  let stale = 0
  for (let i = 1; i <= ITERATIONS; i++) {
    await cache.delete('counter') // start cold, so that the next load runs its loader
    // A load reads the database, then stalls...
    const loaderRead = gate()
    const release = gate()
    const slow = cache.getOrLoad('counter', async () => {
      const value = await readValue()
      loaderRead.open()
      await release.promise
      return value
    })
    await loaderRead.promise
    // ...while the row is updated and the key invalidated.
    await database.db.updateTable('counters').set({ value: i }).where('id', '=', 1).execute()
    await cache.delete('counter')
    release.open()
    await slow
    // Everything asked after the invalidation returned must see the update.
    const after = await cache.getOrLoad('counter', readValue)
    const again = await cache.getOrLoad('counter', readValue)
    if (after !== i || again !== i) stale++
  }
  expect(stale).toBe(0)
})
