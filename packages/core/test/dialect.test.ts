import { withProfile } from '@sluice/testing/profile'
import { sharedPostgres } from '@sluice/testing/vitest'
import { type Generated, Kysely, type LogEvent, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, type SluiceDialect, sluiceDialect } from '../src/index.js'
import { freshDatabase, testDatabase } from './helpers.js'

interface DB {
  notes: { id: Generated<number>; body: string }
}

let name: string
let dialect: SluiceDialect
let db: Kysely<DB>
const logged: string[] = []

beforeAll(async () => {
  const fresh = await freshDatabase()
  name = fresh.name
  dialect = sluiceDialect(fresh.config, withProfile({}))
  db = new Kysely<DB>({
    dialect,
    log: (event: LogEvent) => {
      // In the production profile, BEGIN also carries the transaction's timeouts (SET LOCAL).
      logged.push(event.query.sql.replace(/; set local statement_timeout.*$/s, ''))
    },
  })
  await sql`create table notes (id serial primary key, body text not null)`.execute(db)
})
afterAll(() => dialect?.close())

describe('sluiceDialect', () => {
  it("Kysely's log sees BEGIN, COMMIT, ROLLBACK and savepoints, in Kysely's own words", async () => {
    logged.length = 0
    await db
      .transaction()
      .setIsolationLevel('serializable')
      .execute((trx) => trx.insertInto('notes').values({ body: 'one' }).execute())
    const trx = await db.startTransaction().execute()
    const saved = await trx.savepoint('before_two').execute()
    await saved.insertInto('notes').values({ body: 'two' }).execute()
    await (await saved.rollbackToSavepoint('before_two').execute()).rollback().execute()
    expect(logged).toEqual([
      'start transaction isolation level serializable',
      'insert into "notes" ("body") values ($1)',
      'commit',
      'begin',
      'savepoint "before_two"',
      'insert into "notes" ("body") values ($1)',
      'rollback to "before_two"',
      'rollback',
    ])
    // What the server kept: the committed row only.
    const rows = await sharedPostgres().primary.query<{ body: string }>(
      'select body from notes order by id',
      [],
      name,
    )
    expect(rows).toEqual([{ body: 'one' }])
  })

  it('serves one Kysely: a second one on the same dialect is a ConfigError naming it', () => {
    expect(() => new Kysely<DB>({ dialect })).toThrow(ConfigError)
    try {
      new Kysely<DB>({ dialect })
    } catch (error) {
      expect((error as ConfigError).issues).toEqual([
        { field: 'dialect', message: expect.stringContaining('one Kysely instance') },
      ])
    }
  })

  it('reports health and closes its pool', async () => {
    const report = await dialect.health()
    expect(report.status).toBe('up')
    await dialect.close({ timeoutMs: 2000 })
    await expect(db.selectFrom('notes').selectAll().execute()).rejects.toMatchObject({
      code: 'DATABASE_CLOSED',
    })
  })
})

describe('createDatabase', () => {
  it("passes Kysely's log through", async () => {
    const fresh = await freshDatabase()
    const events: string[] = []
    const database = testDatabase<DB>(fresh.config, {
      log: (event) => {
        events.push(`${event.level}: ${event.query.sql}`)
      },
    })
    try {
      await sql`select 1`.execute(database.db)
      await database.db.transaction().execute(async (trx) => sql`select 2`.execute(trx))
      expect(events.map((line) => line.replace(/; set local statement_timeout.*$/s, ''))).toEqual([
        'query: select 1',
        'query: begin',
        'query: select 2',
        'query: commit',
      ])
    } finally {
      await database.close()
    }
  })
})
