import { type Kysely, sql } from 'kysely'
import { runMaintenance } from '../../src/index.js'
import { monthly } from '../helpers.js'

/** When `notes` gets its partitions (November) and when January's rows are due to move (December). */
export const NOVEMBER = new Date('2026-11-15T00:00:00Z')
export const DECEMBER = new Date('2026-12-15T00:00:00Z')

/** The monthly spec of `notes`. */
export const notes = monthly('notes')

/**
 * `notes`, partitioned by month with a default, its partitions made as of November, and 200
 * rows for January 2027 waiting in the default: the next run (as of December) moves them.
 */
export async function notesWithWaitingRows(db: Kysely<unknown>): Promise<void> {
  await sql`create table notes (id int, at timestamptz not null, body text, primary key (id, at)) partition by range (at)`.execute(
    db,
  )
  await sql`create table notes_default partition of notes default`.execute(db)
  await runMaintenance(db, [notes], { now: NOVEMBER })
  await sql`insert into notes select g, '2027-01-01'::timestamptz + g * interval '1 hour', 'seed ' || g
    from generate_series(1, 200) g`.execute(db)
}
