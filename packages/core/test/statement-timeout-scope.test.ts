import { type Kysely, sql } from 'kysely'
import { expect, it } from 'vitest'
import { withStatementTimeout } from '../src/internal/index.js'
import { freshDatabase, testDatabase } from './helpers.js'

// A batch on the application's own pool (partition maintenance) lifts its statement timeout
// for its own statements only: SET LOCAL on the server, and withStatementTimeout for the
// client-side deadline, which otherwise cancels (PgBouncer transaction mode) or closes
// (direct) a statement a little past the target's timeout, whatever the server's setting.

/** A transaction whose statement runs `seconds`, with the server's timeout set to `timeoutMs`. */
const sleep = (db: Kysely<unknown>, seconds: number, timeoutMs: number) =>
  db.transaction().execute(async (trx) => {
    await sql`select set_config('statement_timeout', ${String(timeoutMs)}, true)`.execute(trx)
    return (await sql<{ n: number }>`select 1 as n from pg_sleep(${seconds})`.execute(trx)).rows
  })

it('statements of a scope get its timeout on the client side; before and after it, the target keeps its own', async () => {
  const { config } = await freshDatabase({ DB_STATEMENT_TIMEOUT: '100ms', DB_POOL_SIZE: '1' })
  const { db, close } = testDatabase<unknown>(config)
  try {
    // Outside a scope the client's deadline (100 ms and its grace) ends it, lifted server or not.
    const outside = await sleep(db, 0.6, 5000).catch((error: unknown) => error)
    expect(['DEADLINE_EXCEEDED', 'STATEMENT_TIMEOUT']).toContain(
      (outside as { code?: string }).code,
    )
    expect(await withStatementTimeout(5000, () => sleep(db, 0.6, 5000))).toEqual([{ n: 1 }])
    // A statement past the scope's own timeout is a statement timeout of that length.
    await expect(withStatementTimeout(300, () => sleep(db, 2, 300))).rejects.toMatchObject({
      code: 'STATEMENT_TIMEOUT',
      message: expect.stringContaining('300 ms'),
    })
    const after = await sleep(db, 0.6, 5000).catch((error: unknown) => error)
    expect(['DEADLINE_EXCEEDED', 'STATEMENT_TIMEOUT']).toContain((after as { code?: string }).code)
    const { rows } = await db
      .transaction()
      .execute((trx) =>
        sql<{ t: string }>`select current_setting('statement_timeout') as t`.execute(trx),
      )
    expect(rows).toEqual([{ t: '100ms' }])
  } finally {
    await close()
  }
})
