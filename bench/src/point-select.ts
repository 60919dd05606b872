// The workload both benchmarks share: concurrent point selects by primary key, best of a few
// rounds per contender, reported as a ratio against a baseline measured in the same run.
import { type Kysely, sql } from 'kysely'

export interface DB {
  items: { id: number; name: string }
}

export const POOL = 10
const CONCURRENCY = 50
const QUERIES = 20_000
const ROUNDS = 3

/** Creates and fills the `items` table through `db`. */
export async function seed(db: Kysely<DB>): Promise<void> {
  await sql`create table items (id int primary key, name text)`.execute(db)
  await sql`insert into items select g, 'item ' || g from generate_series(1, 1000) g`.execute(db)
}

async function throughput(db: Kysely<DB>): Promise<number> {
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < QUERIES) {
        await db
          .selectFrom('items')
          .selectAll()
          .where('id', '=', (next % 1000) + 1)
          .executeTakeFirst()
      }
    }),
  )
  return QUERIES / ((performance.now() - started) / 1000)
}

/** Runs every contender `ROUNDS` times, interleaved, and prints each best as a ratio of `baseline`. */
export async function compare(
  contenders: Readonly<Record<string, Kysely<DB>>>,
  baseline: string,
): Promise<Record<string, number>> {
  const best: Record<string, number> = {}
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, db] of Object.entries(contenders)) {
      best[name] = Math.max(best[name] ?? 0, await throughput(db))
    }
  }
  const base = best[baseline] ?? 1
  for (const [name, qps] of Object.entries(best)) {
    const ratio = (qps / base).toFixed(3)
    console.log(`${name.padEnd(24)} ${qps.toFixed(0).padStart(7)} q/s  ${ratio}x ${baseline}`)
  }
  return best
}
