// Ratio benchmarks on a noisy machine: contenders run back to back in each round (in
// alternating order) and each round yields a ratio against the baseline; the median ratio is
// reported, which keeps the machine's drift out of it. Each contender runs in a process of its
// own (see contender-process.ts), as it would in an application: in a shared process, V8
// would compile the code the clients share (Kysely, pg) for all of them at once, and the
// contenders would pay for each other.

/** One operation of a contender, e.g. a point select or a cache read. */
export type Operation = (i: number) => Promise<unknown>

/** How much work each contender does. */
export interface Workload {
  readonly concurrency: number
  readonly operations: number
  readonly rounds: number
  readonly warmup: number
}

/** What one run of a contender measured. */
export interface Run {
  /** Operations per second. */
  readonly ops: number
  /** This process's CPU time per operation, in microseconds: the client's own cost. */
  readonly cpuUs: number
}

/** Runs `operations` operations, `concurrency` at a time, and measures them. */
export async function run(
  operation: Operation,
  concurrency: number,
  operations: number,
): Promise<Run> {
  let next = 0
  const cpu = process.cpuUsage()
  const started = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < operations) await operation(next++)
    }),
  )
  const seconds = (performance.now() - started) / 1000
  const { user, system } = process.cpuUsage(cpu)
  return { ops: operations / seconds, cpuUs: (user + system) / operations }
}

/** The middle value. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? 0
}

/** A contender as `compare` drives it: runs `operations` operations and measures them. */
export type Runner = (operations: number) => Promise<Run>

/**
 * Runs every contender `rounds` times, interleaved, and prints each one's median throughput
 * and CPU per operation, each with its median per-round ratio to `baseline`. Returns the
 * median throughput ratios.
 */
export async function compare(
  contenders: Readonly<Record<string, Runner>>,
  baseline: string,
  workload: Workload,
  unit = 'op',
): Promise<Record<string, number>> {
  const names = Object.keys(contenders)
  const runs: Record<string, Run[]> = Object.fromEntries(names.map((name) => [name, []]))
  for (const runner of Object.values(contenders)) await runner(workload.warmup)
  for (let round = 0; round < workload.rounds; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse()
    for (const name of order) {
      runs[name]?.push(await (contenders[name] as Runner)(workload.operations))
    }
  }
  const base = runs[baseline] ?? []
  const ratio = (mine: Run[], pick: (r: Run) => number) =>
    median(mine.map((r, round) => pick(r) / pick(base[round] ?? r)))
  const ratios: Record<string, number> = {}
  for (const name of names) {
    const mine = runs[name] ?? []
    ratios[name] = ratio(mine, (r) => r.ops)
    const ops = `${median(mine.map((r) => r.ops))
      .toFixed(0)
      .padStart(8)} ${unit}/s ${(ratios[name] ?? 0).toFixed(3)}x`
    const cpu = `${median(mine.map((r) => r.cpuUs))
      .toFixed(1)
      .padStart(6)} µs CPU/${unit} ${ratio(mine, (r) => r.cpuUs).toFixed(3)}x`
    console.log(`${name.padEnd(24)} ${ops}  ${cpu}  (vs ${baseline})`)
  }
  return ratios
}
