import { sql } from 'kysely'
import { expect, test } from 'vitest'
import { startMaintenanceProcess } from '../processes/maintenance-process.js'
import { conservation, holdComments } from '../workloads/conservation.js'
import { CREATED, KILLED_LEASE_MS, maintainPosts } from '../workloads/posts.js'

// Issue 13, "Conservation", a run interrupted the hard way: the Node process running
// maintenance is killed (SIGKILL) in the middle of a move, after the copy and inside the
// switch, while its backend holds the parent's lock. The next run, in this process, finishes
// the move: nothing lost, duplicated or hidden (the workload's checks), no recorder, log or
// unattached copy left, and no backend or lock of the dead process.
// Its waits allow 30 + 60 + 30 s (child start, lock held, next run) plus the dead runner's lease.
test('a maintenance process killed between copy and switch, holding the parent lock: the next run loses, duplicates and hides nothing', {
  timeout: 180_000,
}, async () => {
  const [next] = await conservation(async ({ db, url, env }) => {
    const holder = await holdComments(url, db)
    const child = startMaintenanceProcess(env)
    let backend = 0
    try {
      await expect
        .poll(async () => (backend = await holder.waiting()), { timeout: 60_000, interval: 20 })
        .toBeGreaterThan(0)
      await child.kill()
    } finally {
      await holder.release()
    }
    // The dead client's backend goes once its wait ends (lock_timeout, or the holder's commit).
    await expect
      .poll(
        async () =>
          (
            await sql<{ backends: number; locks: number }>`
              select (select count(*)::int from pg_stat_activity where pid = ${backend}::int) as backends,
                (select count(*)::int from pg_locks where pid = ${backend}::int) as locks`.execute(
              db,
            )
          ).rows,
        { timeout: 30_000, interval: 20 },
      )
      .toEqual([{ backends: 0, locks: 0 }])
    // What the killed run left: the recorder on the default, its copy unattached, its lease.
    const { rows: left } = await sql<{ triggers: number; copies: number; leases: number }>`
      select (select count(*)::int from pg_trigger where tgname = 'sluice_move_capture') as triggers,
        (select count(*)::int from pg_class c where relname = 'posts_p20270201' and not exists (
          select 1 from pg_inherits i where i.inhrelid = c.oid)) as copies,
        (select count(*)::int from sluice_partitions.tables
          where runner like ${`%:${child.pid}:%`}) as leases`.execute(db)
    expect(left).toEqual([{ triggers: 1, copies: 1, leases: 1 }])
    // The dead runner's lease runs out; this run waits for it.
    return [await maintainPosts(db, { waitMs: 10 * KILLED_LEASE_MS })]
  })
  expect(next).toMatchObject({ errors: [], skipped: [], created: CREATED })
})
