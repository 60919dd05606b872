import { type Generated, type IsolationLevel, type Kysely, Migrator, sql } from 'kysely'

/** The schema the conformance scenarios run on. */
export interface ConformanceDB {
  people: { id: Generated<number>; name: string; age: number }
  pets: { id: Generated<number>; owner_id: number; name: string }
}

/** The statements that give every scenario the same starting data (run on the primary). */
export const RESET_SQL = `
  drop table if exists pets, people, migrated_notes, kysely_migration, kysely_migration_lock;
  create table people (id serial primary key, name text not null unique, age int not null);
  create table pets (id serial primary key, owner_id int not null references people, name text not null);
  insert into people (name, age) values ('ann', 31), ('bob', 17), ('cid', 45);
  insert into pets (owner_id, name) values (1, 'rex'), (1, 'tom'), (3, 'kit');
  drop sequence if exists tickets; create sequence tickets;`

/** What a scenario gets: `db` (routed, on the routed side) and `primary` (for migrations). */
export interface Clients {
  readonly db: Kysely<ConformanceDB>
  readonly primary: Kysely<ConformanceDB>
}

export interface Scenario {
  readonly name: string
  run(clients: Clients): Promise<unknown>
}

const everyone = (db: Kysely<ConformanceDB>) =>
  db.selectFrom('people').selectAll().orderBy('id').execute()

const LEVELS: readonly IsolationLevel[] = [
  'read uncommitted',
  'read committed',
  'repeatable read',
  'serializable',
]

/**
 * Kysely features a service uses, each returning what it observed. The suite runs each through
 * Kysely's own PostgresDialect and through the routed dialect, and compares.
 */
export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'select with where, order and limit',
    run: ({ db }) =>
      db
        .selectFrom('people')
        .select(['name', 'age'])
        .where('age', '>', 18)
        .orderBy('age', 'desc')
        .limit(5)
        .execute(),
  },
  {
    name: 'insert, update and delete with returning, then read them back',
    run: async ({ db }) => [
      await db
        .insertInto('people')
        .values([
          { name: 'dee', age: 22 },
          { name: 'eve', age: 29 },
        ])
        .returning(['id', 'name'])
        .execute(),
      await db
        .updateTable('people')
        .set((eb) => ({ age: eb('age', '+', 1) }))
        .where('name', '=', 'dee')
        .returningAll()
        .execute(),
      await db.deleteFrom('pets').where('name', '=', 'tom').returning('name').execute(),
      await everyone(db),
    ],
  },
  {
    name: 'insert on conflict, and a unique violation (an error Kysely logs)',
    run: async ({ db }) => {
      const skipped = await db
        .insertInto('people')
        .values({ name: 'ann', age: 99 })
        .onConflict((oc) => oc.column('name').doNothing())
        .returning('id')
        .execute()
      const failed = await db
        .insertInto('people')
        .values({ name: 'ann', age: 99 })
        .execute()
        .then(
          () => 'inserted',
          (error: { code?: string }) => error.code,
        )
      return { skipped, failed, after: await everyone(db) }
    },
  },
  {
    name: 'joins and aggregates',
    run: ({ db }) =>
      db
        .selectFrom('people')
        .leftJoin('pets', 'pets.owner_id', 'people.id')
        .select((eb) => ['people.name', eb.fn.count<string>('pets.id').as('pets')])
        .groupBy('people.name')
        .orderBy('people.name')
        .execute(),
  },
  {
    name: 'a CTE that reads, and one that writes',
    run: async ({ db }) => [
      await db
        .with('adults', (qb) => qb.selectFrom('people').selectAll().where('age', '>=', 18))
        .selectFrom('adults')
        .select('name')
        .orderBy('name')
        .execute(),
      await db
        .with('aged', (qb) =>
          qb
            .updateTable('people')
            .set({ age: 50 })
            .where('name', '=', 'bob')
            .returning(['id', 'age']),
        )
        .selectFrom('aged')
        .selectAll()
        .execute(),
      await everyone(db),
    ],
  },
  {
    name: 'raw sql, a write function and a sequence',
    run: async ({ db }) => [
      (await sql<{ n: number }>`select count(*)::int as n from people`.execute(db)).rows,
      await db.selectNoFrom(sql<string>`nextval('tickets')`.as('ticket')).executeTakeFirstOrThrow(),
      await db.selectNoFrom(sql<string>`nextval('tickets')`.as('ticket')).executeTakeFirstOrThrow(),
    ],
  },
  ...LEVELS.flatMap((level) =>
    (['read write', 'read only'] as const).map(
      (mode): Scenario => ({
        name: `a transaction, ${level}, ${mode}`,
        run: ({ db }) =>
          db
            .transaction()
            .setIsolationLevel(level)
            .setAccessMode(mode)
            .execute(async (trx) => {
              if (mode === 'read write') {
                await trx.insertInto('people').values({ name: 'fay', age: 40 }).execute()
              }
              const { rows } = await sql<{ level: string; ro: string }>`
                select current_setting('transaction_isolation') as level,
                       current_setting('transaction_read_only') as ro`.execute(trx)
              return [rows, await everyone(trx)]
            }),
      }),
    ),
  ),
  {
    name: 'a transaction that throws rolls back',
    run: async ({ db }) => {
      const outcome = await db
        .transaction()
        .execute(async (trx) => {
          await trx.insertInto('people').values({ name: 'gus', age: 60 }).execute()
          throw new Error('changed my mind')
        })
        .catch((error: Error) => error.message)
      return [outcome, await everyone(db)]
    },
  },
  {
    name: 'a controlled transaction with savepoints',
    run: async ({ db }) => {
      const trx = await db.startTransaction().execute()
      await trx.insertInto('people').values({ name: 'hal', age: 33 }).execute()
      const first = await trx.savepoint('first').execute()
      await first.insertInto('people').values({ name: 'ida', age: 34 }).execute()
      const rolledBack = await first.rollbackToSavepoint('first').execute()
      const second = await rolledBack.savepoint('second').execute()
      await second.insertInto('people').values({ name: 'jon', age: 35 }).execute()
      const released = await second.releaseSavepoint('second').execute()
      await released.commit().execute()
      return everyone(db)
    },
  },
  {
    name: 'a controlled transaction rolled back',
    run: async ({ db }) => {
      const trx = await db.startTransaction().setIsolationLevel('repeatable read').execute()
      await trx.deleteFrom('pets').execute()
      const inside = await trx.selectFrom('pets').selectAll().execute()
      await trx.rollback().execute()
      return [inside, await db.selectFrom('pets').selectAll().orderBy('id').execute()]
    },
  },
  {
    name: 'a stream left early, then more queries',
    run: async ({ db }) => {
      const seen: string[] = []
      for await (const person of db.selectFrom('people').selectAll().orderBy('id').stream(1)) {
        seen.push(person.name)
        if (seen.length === 2) break
      }
      return [seen, await everyone(db)]
    },
  },
  {
    name: 'db.connection(): statements on one connection, a transaction inside',
    run: ({ db }) =>
      db.connection().execute(async (connection) => {
        await connection.insertInto('people').values({ name: 'kay', age: 26 }).execute()
        const before = await everyone(connection)
        const inside = await connection.transaction().execute(async (trx) => {
          await trx.updateTable('people').set({ age: 27 }).where('name', '=', 'kay').execute()
          return everyone(trx)
        })
        return [before, inside]
      }),
  },
  {
    name: 'introspection',
    run: async ({ db }) => {
      const tables = await db.introspection.getTables()
      return tables
        .filter((table) => ['people', 'pets'].includes(table.name))
        .map((table) => ({
          name: table.name,
          columns: table.columns.map(({ name, dataType, isNullable, hasDefaultValue }) => ({
            name,
            dataType,
            isNullable,
            hasDefaultValue,
          })),
        }))
        .sort((a, b) => a.name.localeCompare(b.name))
    },
  },
  {
    name: "Kysely's Migrator, on the primary",
    run: async ({ db, primary }) => {
      const migrator = new Migrator({
        db: primary,
        provider: {
          getMigrations: async () => ({
            '001_notes': {
              up: (m) =>
                m.schema
                  .createTable('migrated_notes')
                  .addColumn('id', 'serial', (column) => column.primaryKey())
                  .addColumn('body', 'text', (column) => column.notNull())
                  .execute(),
            },
            '002_notes_author': {
              up: (m) =>
                m.schema.alterTable('migrated_notes').addColumn('author', 'text').execute(),
            },
          }),
        },
      })
      const { error, results } = await migrator.migrateToLatest()
      const again = await migrator.migrateToLatest()
      const applied = await migrator.getMigrations()
      const { rows } = await sql<{ column_name: string }>`
        select column_name from information_schema.columns
        where table_name = 'migrated_notes' order by ordinal_position`.execute(db)
      return {
        error,
        results,
        again: again.results,
        applied: applied.map(({ name, executedAt }) => [name, executedAt !== undefined]),
        columns: rows,
      }
    },
  },
]
