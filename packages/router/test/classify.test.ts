import { analyzeQuery } from '@sluice/core/internal'
import { type CompiledQuery, type Kysely, type RawBuilder, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { classifyQuery, compileWriteFunctions } from '../src/classify.js'
import { asRead, type RoutedDatabase } from '../src/index.js'
import {
  type DB,
  routeRecorder,
  startTestCluster,
  type TestCluster,
  testRoutedDatabase,
  VIAS,
} from './helpers.js'

type Query = { compile(): CompiledQuery; execute(): Promise<unknown> }
type Row = readonly [rule: string, build: (db: Kysely<DB>) => Query, kind: 'read' | 'write']

/** A raw query bound to a database, so that it compiles and runs like a builder. */
const raw = (query: RawBuilder<unknown>) => (db: Kysely<DB>) => ({
  compile: () => query.compile(db),
  execute: () => query.execute(db),
})

// One query per rule. Every row is classified from its operation tree, then run through the
// router against real servers, and where it ran is checked.
const table: readonly Row[] = [
  ['plain SELECT', (db) => db.selectFrom('items').selectAll(), 'read'],
  [
    'SELECT with a join and subquery',
    (db) =>
      db
        .selectFrom('items as a')
        .innerJoin('items as b', 'a.id', 'b.id')
        .where('a.id', 'in', db.selectFrom('items').select('id'))
        .select('a.name'),
    'read',
  ],
  [
    'SELECT with a read-only CTE',
    (db) =>
      db
        .with('named', (q) => q.selectFrom('items').selectAll())
        .selectFrom('named')
        .selectAll(),
    'read',
  ],
  [
    'SELECT calling a harmless function',
    (db) => db.selectFrom('items').select((eb) => eb.fn.count('id').as('n')),
    'read',
  ],
  ['SELECT with a raw fragment', (db) => db.selectNoFrom(sql`now()`.as('now')), 'read'],
  ['raw SQL marked as a read', raw(asRead(sql`select count(*) from items`)), 'read'],
  ['INSERT', (db) => db.insertInto('items').values({ name: 'a' }), 'write'],
  ['UPDATE', (db) => db.updateTable('items').set({ name: 'b' }).where('id', '=', -1), 'write'],
  ['DELETE', (db) => db.deleteFrom('items').where('id', '=', -1), 'write'],
  [
    'MERGE',
    (db) =>
      db
        .mergeInto('items')
        .using('items as source', 'source.id', 'items.id')
        .whenMatched()
        .thenDoNothing(),
    'write',
  ],
  [
    'DDL',
    (db) => db.schema.createTable('made_by_test').ifNotExists().addColumn('id', 'integer'),
    'write',
  ],
  ['SELECT ... FOR UPDATE', (db) => db.selectFrom('items').selectAll().forUpdate(), 'write'],
  [
    'SELECT ... FOR NO KEY UPDATE',
    (db) => db.selectFrom('items').selectAll().forNoKeyUpdate(),
    'write',
  ],
  ['SELECT ... FOR SHARE', (db) => db.selectFrom('items').selectAll().forShare(), 'write'],
  ['SELECT ... FOR KEY SHARE', (db) => db.selectFrom('items').selectAll().forKeyShare(), 'write'],
  [
    'SELECT with a raw FOR UPDATE',
    (db) => db.selectFrom('items').selectAll().modifyEnd(sql`for update`),
    'write',
  ],
  [
    'SELECT with a data-modifying CTE',
    (db) =>
      db
        .with('made', (q) => q.insertInto('items').values({ name: 'c' }).returning('id'))
        .selectFrom('made')
        .selectAll(),
    'write',
  ],
  [
    'SELECT nextval()',
    (db) => db.selectNoFrom((eb) => eb.fn<number>('nextval', [sql.lit('item_numbers')]).as('n')),
    'write',
  ],
  [
    'SELECT setval()',
    (db) =>
      db.selectNoFrom((eb) =>
        eb.fn<number>('setval', [sql.lit('item_numbers'), sql.lit(5)]).as('n'),
      ),
    'write',
  ],
  [
    'SELECT pg_advisory_xact_lock()',
    (db) => db.selectNoFrom((eb) => eb.fn('pg_advisory_xact_lock', [sql.lit(1)]).as('l')),
    'write',
  ],
  [
    'SELECT pg_try_advisory_lock() in a raw fragment',
    (db) => db.selectNoFrom(sql`pg_try_advisory_lock(2)`.as('l')),
    'write',
  ],
  [
    'SELECT a user-listed write function',
    (db) => db.selectNoFrom((eb) => eb.fn('public.touch_items', []).as('t')),
    'write',
  ],
  [
    'SELECT lo_create() (large-object writers)',
    (db) => db.selectNoFrom((eb) => eb.fn('lo_create', [sql.lit(0)]).as('o')),
    'write',
  ],
  [
    'SELECT lo_unlink(lo_create()) in a raw fragment',
    (db) => db.selectNoFrom(sql`lo_unlink(lo_create(0))`.as('o')),
    'write',
  ],
  [
    'SELECT pg_current_wal_lsn()',
    (db) => db.selectNoFrom((eb) => eb.fn('pg_current_wal_lsn', []).as('l')),
    'write',
  ],
  [
    'SELECT pg_logical_emit_message()',
    (db) =>
      db.selectNoFrom((eb) =>
        eb.fn('pg_logical_emit_message', [sql.lit(false), sql.lit('p'), sql.lit('m')]).as('l'),
      ),
    'write',
  ],
  [
    'a quoted, schema-qualified write function in a raw fragment',
    (db) => db.selectNoFrom(sql`pg_catalog."nextval"('item_numbers')`.as('n')),
    'write',
  ],
  [
    'a raw CTE body that inserts',
    (db) =>
      db
        .with('made(id)', () => sql`(insert into items (name) values ('raw cte') returning id)`)
        .selectFrom('made')
        .selectAll(),
    'write',
  ],
  ['raw SQL', raw(sql`select count(*) from items`), 'write'],
]

const writes = compileWriteFunctions(['touch_items'])
describe.each(VIAS)('classification (%s)', (via) => {
  let servers: TestCluster
  let database: RoutedDatabase<DB>
  const recorder = routeRecorder()

  beforeAll(async () => {
    servers = await startTestCluster(via)
    await servers.cluster.primary.query(
      'create function touch_items() returns int language sql as $$ select 1 $$',
    )
    await servers.cluster.waitForReplay()
    database = testRoutedDatabase<DB>(servers.config(), {
      writeFunctions: ['touch_items'],
      lagCheckIntervalMs: 100,
      instrumentation: recorder,
    })
  })

  afterAll(async () => {
    await database?.close()
    await servers?.stop()
  })

  describe('where they run', () => {
    test.each(table)('%s is a %s', (_rule, build, kind) => {
      const { query, sql: text } = build(database.db).compile()
      expect(classifyQuery(analyzeQuery(query, text), writes).kind).toBe(kind)
    })

    test.each(table)('%s runs on the %s server', async (_rule, build, kind) => {
      recorder.events.length = 0
      await build(database.db).execute()
      const [event] = recorder.events
      expect(event?.role).toBe(kind === 'read' ? 'replica' : 'primary')
    })

    test('every statement of a transaction runs on the primary, reads included', async () => {
      const ports = await database.db.transaction().execute(async (trx) => {
        const read = await trx
          .selectNoFrom(sql<number>`inet_server_port()`.as('port'))
          .executeTakeFirstOrThrow()
        await trx.insertInto('items').values({ name: 'in transaction' }).execute()
        return [read.port]
      })
      expect(ports.map(servers.labelOf)).toEqual(['primary'])
    })
  })
})
