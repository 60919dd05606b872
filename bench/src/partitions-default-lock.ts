// How long the brief parent lock of a move out of the default partition lasts, against the
// size of the default and the rows moved (issue 13, item 6). Each round: a default partition
// holding `size` rows that stay (far future) and `moved` rows for next month, then one
// maintenance run that moves them while a client keeps inserting into the current month.
// Prints the lock's length (`longestLockMs`) and the longest insert wait, and their ratio to
// the first round in the same run: the rows are copied outside the lock, so the moved rows
// barely count; what grows is ATTACH's scan of the default (see the README).
import { createDatabase, parseConfig } from '@sluice/core'
import { runMaintenance } from '@sluice/partitions'
import { startPostgres } from '@sluice/testing'
import { monthlySpec } from '@sluice/testing/partitions'
import { sql } from 'kysely'
import pg from 'pg'

const ROUNDS = [
  { size: 0, moved: 1000 },
  { size: 100_000, moved: 1000 },
  { size: 400_000, moved: 1000 },
  { size: 0, moved: 100_000 },
]
// The tests' monthly spec (@sluice/testing/partitions), with a default partition.
const spec = monthlySpec('events', { defaultPartition: true })
const cluster = await startPostgres({ engine: 'system' })
try {
  const rounds: Array<{ size: number; moved: number; lockMs: number; insertMs: number }> = []
  for (const { size, moved } of ROUNDS) {
    const { url } = await cluster.createDatabase(`lock_${size}_${moved}`)
    const database = createDatabase<unknown>(parseConfig({ DATABASE_URL: url }))
    const writer = new pg.Client({ connectionString: url })
    await writer.connect()
    try {
      const { db } = database
      await sql`create table events (id bigint, at timestamptz not null) partition by range (at)`.execute(
        db,
      )
      await sql`create table events_default partition of events default`.execute(db)
      await runMaintenance(db, [spec], { now: new Date('2026-11-15T00:00:00Z') })
      await sql`insert into events select g, '2035-01-01'::timestamptz + g * interval '1 second' from generate_series(1, ${size}) g`.execute(
        db,
      )
      await sql`insert into events select g, '2027-01-01'::timestamptz + g * interval '1 second' from generate_series(1, ${moved}) g`.execute(
        db,
      )
      await sql`analyze events`.execute(db)
      let stop = false
      let insertMs = 0
      const inserting = (async () => {
        while (!stop) {
          const started = performance.now()
          await writer.query(`insert into events values (0, '2026-12-20')`)
          insertMs = Math.max(insertMs, performance.now() - started)
        }
      })()
      const result = await runMaintenance(db, [spec], {
        now: new Date('2026-12-15T00:00:00Z'),
        lockTimeoutMs: 1000,
      })
      stop = true
      await inserting
      if (result.errors.length > 0 || result.movedRows !== moved) {
        throw new Error(`round ${size}: ${JSON.stringify(result.errors)} moved ${result.movedRows}`)
      }
      rounds.push({ size, moved, lockMs: result.longestLockMs, insertMs })
    } finally {
      await writer.end()
      await database.close()
    }
  }
  const [base] = rounds
  console.log('partitions: parent lock of a move against the default partition size')
  for (const { size, moved, lockMs, insertMs } of rounds) {
    console.log(
      `  ${String(moved).padStart(7)} moved, ${String(size).padStart(7)} staying: lock ${lockMs.toFixed(0).padStart(4)} ms (${(lockMs / (base?.lockMs ?? 1)).toFixed(1)}x), longest insert ${insertMs.toFixed(0)} ms`,
    )
  }
} finally {
  await cluster.stop()
}
