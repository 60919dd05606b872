// The workload both benchmarks share: concurrent point selects by primary key. Contenders run
// back to back in each round (in alternating order) and each round yields a ratio against the
// baseline; the median ratio is reported, which keeps a noisy machine's drift out of it.
import { type Kysely, sql } from 'kysely'

export interface DB {
  items: { id: number; name: string }
}

export const POOL = 10
const CONCURRENCY = 50
const QUERIES = 5_000
const ROUNDS = 15
const WARMUP_QUERIES = 2_000

/** Creates and fills the `items` table through `db`. */
export async function seed(db: Kysely<DB>): Promise<void> {
  await sql`create table items (id int primary key, name text)`.execute(db)
  await sql`insert into items select g, 'item ' || g from generate_series(1, 1000) g`.execute(db)
}

interface Run {
  /** Queries per second. */
  readonly qps: number
  /** This process's CPU time per query, in microseconds: the client's own cost. */
  readonly cpuUs: number
}

async function run(db: Kysely<DB>, queries = QUERIES): Promise<Run> {
  let next = 0
  const cpu = process.cpuUsage()
  const started = performance.now()
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < queries) {
        await db
          .selectFrom('items')
          .selectAll()
          .where('id', '=', (next % 1000) + 1)
          .executeTakeFirst()
      }
    }),
  )
  const seconds = (performance.now() - started) / 1000
  const { user, system } = process.cpuUsage(cpu)
  return { qps: queries / seconds, cpuUs: (user + system) / queries }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? 0
}

/**
 * Runs every contender `ROUNDS` times, interleaved, and prints each one's median throughput
 * and client CPU per query, each with its median per-round ratio to `baseline`. Returns the
 * median throughput ratios.
 */
export async function compare(
  contenders: Readonly<Record<string, Kysely<DB>>>,
  baseline: string,
): Promise<Record<string, number>> {
  const names = Object.keys(contenders)
  const runs: Record<string, Run[]> = Object.fromEntries(names.map((name) => [name, []]))
  for (const db of Object.values(contenders)) await run(db, WARMUP_QUERIES)
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse()
    for (const name of order) runs[name]?.push(await run(contenders[name] as Kysely<DB>))
  }
  const base = runs[baseline] ?? []
  const ratio = (mine: Run[], pick: (r: Run) => number) =>
    median(mine.map((r, round) => pick(r) / pick(base[round] ?? r)))
  const ratios: Record<string, number> = {}
  for (const name of names) {
    const mine = runs[name] ?? []
    ratios[name] = ratio(mine, (r) => r.qps)
    const qps = `${median(mine.map((r) => r.qps))
      .toFixed(0)
      .padStart(7)} q/s ${(ratios[name] ?? 0).toFixed(3)}x`
    const cpu = `${median(mine.map((r) => r.cpuUs))
      .toFixed(1)
      .padStart(6)} µs CPU/query ${ratio(mine, (r) => r.cpuUs).toFixed(3)}x`
    console.log(`${name.padEnd(24)} ${qps}  ${cpu}  (vs ${baseline})`)
  }
  return ratios
}
