import { expect, test } from 'vitest'
import type { MaintenanceResult, PartitionError } from '../../src/index.js'
import { bounds } from '../helpers.js'
import { startMaintenanceProcess } from '../processes/maintenance-process.js'
import { conservation, holdComments } from '../workloads/conservation.js'
import { CREATED, maintainPosts } from '../workloads/posts.js'

// Maintenance under faults, with the conservation workload's 8 writing clients and its
// checks (nothing lost, duplicated or hidden, no insert rejected, nothing left behind).
const PARTITIONS = [...CREATED, 'posts_p20261101', 'posts_p20261201', 'posts_p20270101'].sort()

// Two runners in two processes, released together: whatever the interleaving, each range is
// created once (no duplicate, no empty leftover), the loser skips without an error, and a
// third run finds nothing to do. Waits: 2 x 30 s child start, their runs, the third run.
test('two maintenance processes at once: one does the work, the other skips or finds it done; nothing is done twice', {
  timeout: 180_000,
}, async () => {
  const [third] = await conservation(async ({ db, env, run }) => {
    const runners = [0, 1].map(() => startMaintenanceProcess(env, { leaseMs: 60_000, gated: true }))
    await Promise.all(runners.map((runner) => runner.ready))
    for (const runner of runners) runner.go()
    const results = await Promise.all(runners.map((runner) => runner.result))
    expect(results.flatMap((r) => r.errors)).toEqual([])
    expect(results.flatMap((r) => r.created).sort()).toEqual([...CREATED].sort())
    expect((await bounds(db, 'posts')).map((b) => b.name)).toEqual(
      [...PARTITIONS, 'posts_default'].sort(),
    )
    return [await run()]
  })
  expect(third).toMatchObject({ errors: [], skipped: [], created: [] })
})

// lock_timeout hit mid-run, on every attempt: each move's switch waits for the referencing
// table a long transaction holds (2 attempts here; the default 20, with backoff up to 5 s,
// make a run wait over a minute per step). Each step fails typed and changes nothing;
// nothing is lost or hidden, and the next run, the holder gone, completes every move.
test('switches that run into lock_timeout on every attempt fail typed and change nothing; the next run completes them', {
  timeout: 120_000,
}, async () => {
  const [timedOut, next] = await conservation(async ({ db, url, run }) => {
    const holder = await holdComments(url, db)
    let first: MaintenanceResult
    try {
      first = await maintainPosts(db, { attempts: 2 })
    } finally {
      await holder.release()
    }
    return [first, await run()]
  })
  const failed = timedOut?.errors.map((e) => [e.step?.partition, (e.error as PartitionError).code])
  expect(failed).toEqual(CREATED.map((partition) => [partition, 'PARTITION_LOCK_TIMEOUT']))
  expect(timedOut?.created).toEqual([])
  expect(next).toMatchObject({ errors: [], created: CREATED })
})
