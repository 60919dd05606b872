// The workload the core and router benchmarks share: concurrent point selects by primary key,
// each client in a process of its own (point-select-child.ts).
import { type Kysely, sql } from 'kysely'
import { compare, type Workload } from './compare.js'
import { type ContenderProcess, startContender } from './contender-process.js'

export interface DB {
  items: { id: number; name: string }
}

export const POOL = 10
const WORKLOAD: Workload = { concurrency: 50, operations: 5_000, rounds: 15, warmup: 2_000 }
const CHILD = new URL('./point-select-child.js', import.meta.url)

/** Which client runs the point selects, and the servers it gets. */
export interface ClientSpec {
  /**
   * `plain`: Kysely + pg on `url`; `sluice` / `sluice+hooks`: createDatabase on `url` (with a
   * no-op hook); `router`: createRoutedDatabase with `url` as the primary and `replicaUrls`;
   * `kysely-replication`: its round-robin dialect over the same servers; `router-baseline`:
   * like `router`, with another build of `@sluice/router` (and its `@sluice/core`) at `module`.
   */
  readonly kind:
    | 'plain'
    | 'sluice'
    | 'sluice+hooks'
    | 'router'
    | 'router-baseline'
    | 'kysely-replication'
  readonly url: string
  readonly replicaUrls?: readonly string[]
  /** `router-baseline`: the built `dist/index.js` of that router; its core is `../../core/dist`. */
  readonly module?: string
}

/** Creates and fills the `items` table through `db`. */
export async function seed(db: Kysely<DB>): Promise<void> {
  await sql`create table items (id int primary key, name text)`.execute(db)
  await sql`insert into items select g, 'item ' || g from generate_series(1, 1000) g`.execute(db)
}

/**
 * Runs point selects through each client, interleaved, and prints throughput and client CPU
 * per query with their median ratios to `baseline`.
 */
export async function compareClients(
  contenders: Readonly<Record<string, ClientSpec>>,
  baseline: string,
): Promise<Record<string, number>> {
  const started: [string, ContenderProcess][] = []
  try {
    for (const [name, spec] of Object.entries(contenders)) {
      const env = { BENCH_CLIENT: JSON.stringify(spec), BENCH_POOL: String(POOL) }
      started.push([name, await startContender(CHILD, env, WORKLOAD.concurrency)])
    }
    const runners = Object.fromEntries(started.map(([name, child]) => [name, child.runner]))
    return await compare(runners, baseline, WORKLOAD, 'query')
  } finally {
    await Promise.all(started.map(([, child]) => child.stop()))
  }
}
