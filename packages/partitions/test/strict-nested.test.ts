import { type ExpressionBuilder, type Generated, type Kysely, sql } from 'kysely'
import { beforeAll, describe, expect, test } from 'vitest'
import {
  createPartitionedTable,
  definePartitions,
  explainPartitions,
  PartitionError,
  RequirePartitionKeyPlugin,
} from '../src/index.js'
import { freshDatabase } from './helpers.js'

interface DB {
  events: { id: Generated<number>; user_id: number; at: Date }
  users: { id: number; seen: number }
  archive: { id: number; user_id: number; at: Date }
}

const events = definePartitions({ table: 'events', column: 'at', interval: 'month', premake: 2 })
const june = new Date('2026-06-01T00:00:00Z')
let db: Kysely<DB>

beforeAll(async () => {
  const fresh = await freshDatabase()
  db = fresh.db as unknown as Kysely<DB>
  await createPartitionedTable(
    fresh.db,
    events,
    (t) =>
      t
        .addColumn('id', 'serial')
        .addColumn('user_id', 'int4', (c) => c.notNull())
        .addColumn('at', 'timestamptz', (c) => c.notNull()),
    { now: new Date('2026-05-10T00:00:00Z') },
  )
  await sql`create table users (id int4 primary key, seen int4 not null default 0);
    create table archive (id int4, user_id int4, at timestamptz)`.execute(db)
})

/** Every statement here reaches the partitioned table only through a nested query. */
function nested(k: Kysely<DB>, pruned: boolean) {
  // Kysely's own comparison on the key, or a WHERE that restricts nothing.
  const where = (eb: ExpressionBuilder<DB, 'events'>) =>
    pruned ? eb('events.at', '>=', june) : eb.lit(true)
  return {
    cte: k
      .with('e', (q) => q.selectFrom('events').selectAll().where(where))
      .selectFrom('e')
      .selectAll(),
    'FROM subquery': k
      .selectFrom((eb) => eb.selectFrom('events').selectAll().where(where).as('e'))
      .selectAll(),
    'lateral join': k
      .selectFrom('users')
      .innerJoinLateral(
        (eb) =>
          eb
            .selectFrom('events')
            .selectAll()
            .whereRef('events.user_id', '=', 'users.id')
            .where(where)
            .as('e'),
        (join) => join.onTrue(),
      )
      .selectAll(),
    exists: k
      .selectFrom('users')
      .selectAll()
      .where((eb) => eb.exists(eb.selectFrom('events').select('id').where(where))),
    'scalar subquery': k
      .selectFrom('users')
      .select((eb) =>
        eb.selectFrom('events').select(eb.fn.countAll().as('n')).where(where).as('n'),
      ),
    union: k
      .selectFrom('users')
      .select('id')
      .union((eb) => eb.selectFrom('events').select('id').where(where)),
    'insert ... select': k
      .insertInto('archive')
      .expression((eb) => eb.selectFrom('events').select(['id', 'user_id', 'at']).where(where)),
    'update ... from': k
      .updateTable('users')
      .from('events')
      .set({ seen: 1 })
      .whereRef('users.id', '=', 'events.user_id')
      .where(where),
    'delete ... using': k
      .deleteFrom('users')
      .using('events')
      .whereRef('users.id', '=', 'events.user_id')
      .where(where),
  }
}

describe('the strict plugin and nested queries', () => {
  test('a statement that scans every partition through a CTE, subquery, UNION, INSERT ... SELECT, UPDATE ... FROM or DELETE ... USING is refused', async () => {
    const strict = db.withPlugin(new RequirePartitionKeyPlugin([events]))
    const plain = nested(db, false)
    for (const [name, query] of Object.entries(nested(strict, false))) {
      // PostgreSQL's own plan of the same statement without the plugin: every partition.
      const scanned = await explainPartitions(db, plain[name as keyof typeof plain])
      expect(
        scanned.filter((table) => table.startsWith('events_')),
        name,
      ).toHaveLength(3)
      await expect(query.execute(), name).rejects.toSatisfy(
        (error) => error instanceof PartitionError && error.code === 'PARTITION_KEY_REQUIRED',
      )
    }
  })

  test('the same statements pruned on the key inside the nested query go through', async () => {
    const strict = db.withPlugin(new RequirePartitionKeyPlugin([events]))
    const plain = nested(db, true)
    for (const [name, query] of Object.entries(nested(strict, true))) {
      const scanned = await explainPartitions(db, plain[name as keyof typeof plain])
      expect(
        scanned.filter((table) => table.startsWith('events_')),
        name,
      ).toEqual(['events_p20260601', 'events_p20260701'])
      await expect(query.execute(), name).resolves.toBeDefined()
    }
  })

  test('MERGE with the partitioned table as its source is refused without the key in its ON', async () => {
    const strict = db.withPlugin(new RequirePartitionKeyPlugin([events]))
    const merge = (k: Kysely<DB>) =>
      k.mergeInto('users').using('events', 'events.user_id', 'users.id').whenMatched().thenDelete()
    expect(
      (await explainPartitions(db, merge(db))).filter((table) => table.startsWith('events_')),
    ).toHaveLength(3)
    await expect(merge(strict).execute()).rejects.toSatisfy(
      (error) => error instanceof PartitionError && error.code === 'PARTITION_KEY_REQUIRED',
    )
  })
})
