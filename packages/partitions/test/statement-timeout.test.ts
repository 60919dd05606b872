import { monthlySpec } from '@sluice/testing/partitions'
import { type Kysely, sql } from 'kysely'
import { expect, test } from 'vitest'
import { createPartitionedTable, runMaintenance } from '../src/index.js'
import { freshDatabase } from './helpers.js'
import { conservation } from './workloads/conservation.js'
import { CREATED, maintainPosts } from './workloads/posts.js'

// Issue 13, session 9: maintenance runs on the application's own pool, whose
// DB_STATEMENT_TIMEOUT suits OLTP queries, not a batch that reads and copies a whole default
// partition. Its statements get maintenance's own timeout (SET LOCAL in each transaction, and
// the client-side deadline); every other query keeps the application's.
const APP_TIMEOUT = '50ms'
// One connection: the one maintenance ran on is the one checked afterwards (through PgBouncer
// in the production profile, a server connection of the pool's).
const APP = { DB_STATEMENT_TIMEOUT: APP_TIMEOUT, DB_POOL_SIZE: '1' }

/** The timeouts `app`'s connection has in a transaction, and outside one where sessions exist. */
async function timeouts(app: Kysely<unknown>) {
  const read = sql<{ statement: string; lock: string }>`
    select current_setting('statement_timeout') as statement, current_setting('lock_timeout') as lock`
  const inside = await app.transaction().execute(async (trx) => (await read.execute(trx)).rows)
  // In PgBouncer transaction mode the application's timeout is SET LOCAL at each BEGIN.
  if (process.env.SLUICE_TEST_PROFILE === 'production') return { inside }
  return { inside, outside: (await read.execute(app)).rows }
}

test('a run on a pool with a 50 ms statement timeout and a default of 150,000 rows completes under 8 writing clients, keeps every row, and leaves the pool its timeout', {
  timeout: 120_000,
}, async () => {
  let before: Awaited<ReturnType<typeof timeouts>> | undefined
  const [result] = await conservation(
    async ({ open }) => {
      const app = open(APP)
      before = await timeouts(app)
      // The premise: the application's timeout cuts a read of the whole default.
      const read = sql`select count(*) from posts_default group by date_trunc('month', at at time zone 'UTC')`
      await expect(app.transaction().execute((trx) => read.execute(trx))).rejects.toMatchObject({
        code: 'STATEMENT_TIMEOUT',
      })
      const result = await maintainPosts(app)
      expect(result.errors).toEqual([])
      expect(await timeouts(app)).toEqual(before)
      return [result]
    },
    { bulkRows: 150_000 },
  )
  expect(before?.inside).toEqual([{ statement: APP_TIMEOUT, lock: '0' }])
  expect(result).toMatchObject({ errors: [], created: CREATED })
})

test('a retention DETACH CONCURRENTLY (outside any transaction) gives the connection back with the application timeouts', async () => {
  const { db, open } = await freshDatabase()
  const spec = monthlySpec('events', { retention: { keep: 2, mode: 'drop' } })
  await createPartitionedTable(
    db,
    spec,
    (t) => t.addColumn('at', 'timestamptz', (c) => c.notNull()),
    {
      now: new Date('2026-06-15T00:00:00Z'),
    },
  )
  const app = open(APP)
  const before = await timeouts(app)
  const result = await runMaintenance(app, [spec], { now: new Date('2026-11-15T00:00:00Z') })
  expect(result).toMatchObject({ errors: [], dropped: ['events_p20260601', 'events_p20260701'] })
  expect(await timeouts(app)).toEqual(before)
  expect(before.outside ?? before.inside).toEqual([{ statement: APP_TIMEOUT, lock: '0' }])
})
