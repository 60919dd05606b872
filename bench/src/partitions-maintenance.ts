// The same maintenance done by Sluice and by pg_partman 4 (postgresql-15-partman), in one run
// on one PostgreSQL 15: 20 monthly tables with 30 months of old partitions, premake 4 and 24
// months of retention. The timed part is one maintenance pass (creating what is missing and
// dropping what is past retention); afterwards both sets of partitions must match bound for
// bound. Prints the time ratio (Sluice / pg_partman).
import { createDatabase, parseConfig } from '@sluice/core'
import { runMaintenance } from '@sluice/partitions'
import { startPostgres } from '@sluice/testing'
import { monthlySpec } from '@sluice/testing/partitions'
import { sql } from 'kysely'

const TABLES = 20
const now = new Date()
const past = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 30, 1))
// The tests' monthly spec (@sluice/testing/partitions), with pg_partman's premake and retention.
const spec = (table: string, premake: number) =>
  monthlySpec(table, { premake, retention: { keep: 24, mode: 'drop' } })

const cluster = await startPostgres({ engine: 'system' })
const database = createDatabase<unknown>(
  parseConfig({ DATABASE_URL: (await cluster.createDatabase('bench')).url }),
)
const { db } = database
try {
  await sql`alter database bench set timezone = 'UTC'`.execute(db)
  await sql`create schema partman`.execute(db)
  await sql`create extension pg_partman schema partman`.execute(db)
  const sluiceTables = Array.from({ length: TABLES }, (_, i) => `sluice_${i + 1}`)
  const partmanTables = Array.from({ length: TABLES }, (_, i) => `partman_${i + 1}`)
  for (const table of [...sluiceTables, ...partmanTables]) {
    await sql`create table ${sql.table(table)} (id bigint, at timestamptz not null) partition by range (at)`.execute(
      db,
    )
  }
  // The same starting point: monthly partitions from 30 months ago to 4 months ahead.
  await runMaintenance(
    db,
    sluiceTables.map((t) => spec(t, 34)),
    { now: past },
  )
  for (const table of partmanTables) {
    await sql`select partman.create_parent(${`public.${table}`}, 'at', 'native', 'monthly',
      p_premake := 4, p_start_partition := ${past.toISOString()}, p_jobmon := false)`.execute(db)
  }
  await sql`update partman.part_config set retention = '24 months', retention_keep_table = false`.execute(
    db,
  )

  const sluiceStarted = performance.now()
  const result = await runMaintenance(
    db,
    sluiceTables.map((t) => spec(t, 4)),
    { now },
  )
  const sluiceMs = performance.now() - sluiceStarted
  const partmanStarted = performance.now()
  await sql`select partman.run_maintenance()`.execute(db)
  const partmanMs = performance.now() - partmanStarted

  const boundsOf = async (table: string) => {
    const { rows } = await sql<{ bound: string }>`
      select pg_get_expr(c.relpartbound, c.oid) as bound
      from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent = ${table}::regclass and pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
      order by 1`.execute(db)
    return rows.map((row) => row.bound)
  }
  let mismatches = 0
  for (let i = 0; i < TABLES; i++) {
    const [mine, theirs] = await Promise.all([
      boundsOf(sluiceTables[i] ?? ''),
      boundsOf(partmanTables[i] ?? ''),
    ])
    if (JSON.stringify(mine) !== JSON.stringify(theirs)) {
      mismatches++
      console.log(
        `${sluiceTables[i]}: ${mine.length} partitions, ${partmanTables[i]}: ${theirs.length}`,
      )
    }
  }
  const perTable = (await boundsOf('sluice_1')).length
  console.log(`partitions: ${TABLES} monthly tables, premake 4, 24 months retention`)
  console.log(
    `  sluice dropped ${result.dropped.length}, created ${result.created.length}, errors ${result.errors.length}`,
  )
  console.log(
    `  partition sets ${mismatches === 0 ? 'match' : `DIFFER in ${mismatches} tables`} (${perTable} per table)`,
  )
  console.log(
    `  sluice ${sluiceMs.toFixed(0)} ms, pg_partman ${partmanMs.toFixed(0)} ms: ${(sluiceMs / partmanMs).toFixed(2)}x the time`,
  )
  if (mismatches > 0) process.exitCode = 1
} finally {
  await database.close()
  await cluster.stop()
}
