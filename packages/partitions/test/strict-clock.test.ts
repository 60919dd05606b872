import { type Expression, type Generated, type Kysely, type SqlBool, sql } from 'kysely'
import { beforeAll, describe, expect, test } from 'vitest'
import {
  createPartitionedTable,
  definePartitions,
  explainPartitions,
  PartitionError,
  RequirePartitionKeyPlugin,
} from '../src/index.js'
import { freshDatabase } from './helpers.js'

// Review finding: ranges built from the transaction's clock are bounded and prune (at
// executor startup, which EXPLAIN shows); the strict plugin refused them.
interface DB {
  events: { id: Generated<number>; user_id: number; at: Date; seen_at: Date }
}

const events = definePartitions({ table: 'events', column: 'at', interval: 'day', premake: 14 })
let db: Kysely<DB>
let all: string[]

beforeAll(async () => {
  const fresh = await freshDatabase()
  db = fresh.db as unknown as Kysely<DB>
  // Ten days back to four ahead of the server's clock (the machine's: now() is real here).
  await createPartitionedTable(
    fresh.db,
    events,
    (t) =>
      t
        .addColumn('id', 'serial')
        .addColumn('user_id', 'int4', (c) => c.notNull())
        .addColumn('at', 'timestamptz', (c) => c.notNull())
        .addColumn('seen_at', 'timestamptz', (c) => c.notNull()),
    { now: new Date(Date.now() - 10 * 86_400_000) },
  )
  all = await explainPartitions(db, db.selectFrom('events').selectAll())
})

const where = (predicate: Expression<SqlBool>) =>
  db
    .withPlugin(new RequirePartitionKeyPlugin([events]))
    .selectFrom('events')
    .selectAll()
    .where(predicate)

describe('the strict plugin and ranges from the clock', () => {
  test("now() / current_timestamp / current_date with interval arithmetic are accepted, and PostgreSQL's plan prunes with each", async () => {
    const strict = db.withPlugin(new RequirePartitionKeyPlugin([events]))
    const accepted = {
      'now() - interval': strict
        .selectFrom('events')
        .selectAll()
        .where('at', '>', sql<Date>`now() - interval '1 day'`),
      'current_date - interval': strict
        .selectFrom('events')
        .selectAll()
        .where('at', '>=', sql<Date>`current_date - interval '2 days'`),
      'a cast parameter': strict
        .selectFrom('events')
        .selectAll()
        .where('at', '>=', sql<Date>`date_trunc('day', now()) - ${'3 days'}::interval`),
      'Kysely fn and arithmetic': strict
        .selectFrom('events')
        .selectAll()
        .where((eb) => eb('at', '>', eb(eb.fn<Date>('now'), '-', sql<Date>`interval '1 day'`))),
      'flipped: now() > key': strict
        .selectFrom('events')
        .selectAll()
        .where(sql<Date>`now() + interval '1 day'`, '>', sql.ref<Date>('at')),
      'raw predicate': where(sql<SqlBool>`at > current_timestamp - interval '1 day'`),
      'raw between on a ref': where(
        sql<SqlBool>`${sql.ref('events.at')} between now() - interval '2 days' and now()`,
      ),
      'raw conjunction': where(sql<SqlBool>`user_id = ${1} and (events.at >= localtimestamp)`),
    }
    for (const [name, query] of Object.entries(accepted)) {
      await expect(query.execute(), name).resolves.toBeDefined()
      const scanned = await explainPartitions(db, query)
      expect(scanned.length, name).toBeGreaterThan(0)
      expect(scanned.length, name).toBeLessThan(all.length)
    }
  })

  test('an unbounded, volatile or non-key predicate is still refused', async () => {
    const strict = db.withPlugin(new RequirePartitionKeyPlugin([events]))
    const refused = {
      'clock_timestamp() is volatile': strict
        .selectFrom('events')
        .selectAll()
        .where('at', '>', sql<Date>`clock_timestamp() - interval '1 day'`),
      'another column': where(sql<SqlBool>`seen_at > now() - interval '1 day'`),
      'a column in the value': strict
        .selectFrom('events')
        .selectAll()
        .where('at', '>', sql<Date>`seen_at - interval '1 day'`),
      'or another column': where(sql<SqlBool>`at > now() - interval '1 day' or user_id = 1`),
      'not null': where(sql<SqlBool>`at is not null`),
      'a comment hiding the rest': where(sql<SqlBool>`at > now() -- ${sql.ref('user_id')}`),
    }
    for (const [name, query] of Object.entries(refused)) {
      const error = await query.execute().catch((e: unknown) => e)
      expect(error, name).toBeInstanceOf(PartitionError)
      expect(error, name).toMatchObject({ code: 'PARTITION_KEY_REQUIRED' })
    }
    // The server agrees: nothing is pruned with the volatile clock.
    const volatile = db
      .selectFrom('events')
      .selectAll()
      .where('at', '>', sql<Date>`clock_timestamp()`)
    expect(await explainPartitions(db, volatile)).toEqual(all)
  })
})
