// The workload the core and router benchmarks share: concurrent point selects by primary key.
import { type Kysely, sql } from 'kysely'
import { compare, type Workload } from './compare.js'

export interface DB {
  items: { id: number; name: string }
}

export const POOL = 10
const WORKLOAD: Workload = { concurrency: 50, operations: 5_000, rounds: 15, warmup: 2_000 }

/** Creates and fills the `items` table through `db`. */
export async function seed(db: Kysely<DB>): Promise<void> {
  await sql`create table items (id int primary key, name text)`.execute(db)
  await sql`insert into items select g, 'item ' || g from generate_series(1, 1000) g`.execute(db)
}

/**
 * Runs point selects through each Kysely client, interleaved, and prints throughput and
 * client CPU per query with their median ratios to `baseline`.
 */
export function compareClients(
  contenders: Readonly<Record<string, Kysely<DB>>>,
  baseline: string,
): Promise<Record<string, number>> {
  const pointSelect = (db: Kysely<DB>) => (i: number) =>
    db
      .selectFrom('items')
      .selectAll()
      .where('id', '=', (i % 1000) + 1)
      .executeTakeFirst()
  const operations = Object.fromEntries(
    Object.entries(contenders).map(([name, db]) => [name, pointSelect(db)]),
  )
  return compare(operations, baseline, WORKLOAD, 'query')
}
