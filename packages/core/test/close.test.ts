import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SluiceDatabase } from '../src/index.js'
import { freshDatabase, testDatabase } from './helpers.js'

describe('close() with a close already under way', () => {
  let database: SluiceDatabase<Record<string, never>>
  let name: string

  beforeAll(async () => {
    const fresh = await freshDatabase({ DB_STATEMENT_TIMEOUT: '60s' })
    name = fresh.name
    database = testDatabase(fresh.config)
  })
  afterAll(() => database?.close({ timeoutMs: 0 }))

  it('close({ timeoutMs }) keeps its own budget after a close() with the default one (as db.destroy() calls it)', async () => {
    const hanging = sql`select pg_sleep(60)`.execute(database.db).then(
      () => 'answered',
      () => 'failed',
    )
    const observer = testDatabase((await freshDatabase()).config)
    try {
      // The server runs the sleep: it is checked out, so the first close() waits for it.
      await expect
        .poll(async () => {
          const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity
            where datname = ${name} and query like 'select pg_sleep(60)%'`.execute(observer.db)
          return rows[0]?.n
        })
        .toBe(1)
      const settled: string[] = []
      // What Kysely's destroy(), a framework's shutdown hook or a first signal handler does:
      // close() with the default budget (10 s), not awaited.
      const first = database.close().then(() => settled.push('first (10 s budget)'))
      await database.close({ timeoutMs: 300 })
      settled.push('second (300 ms budget)')
      // The second close returned at its own budget, cutting the sleep off, while the first one
      // still waited (before the fix, the second waited for the first's 10 s drain).
      expect(settled).toEqual(['second (300 ms budget)'])
      expect(await hanging).toBe('failed')
      await first
      expect(settled).toEqual(['second (300 ms budget)', 'first (10 s budget)'])
    } finally {
      await observer.close()
    }
  })
})
