import { sql } from 'kysely'
import { expect, test } from 'vitest'
import { connectClient } from './helpers.js'
import { CREATED, conservation } from './workloads/conservation.js'

// Issue 13, "Conservation" (see workloads/conservation.ts): one run, and a run whose backend
// is terminated in the middle of a move (holding the parent's lock), completed by the next.
test('a maintenance run under 8 writing clients keeps every row and its content, hides none, rejects no insert', async () => {
  const [result] = await conservation(async ({ run }) => [await run()])
  expect(result?.errors).toEqual([])
  expect(result?.created).toEqual(CREATED)
  expect(result?.movedRows).toBeGreaterThanOrEqual(800)
})

test('a run whose backend is terminated mid-move loses, duplicates and hides nothing; the next run completes the move', async () => {
  const [killed, next] = await conservation(async ({ db, url, run }) => {
    // A session holding the referencing table makes the first move's switch wait there,
    // with the parent locked, the rows copied and the recorder on: it is terminated then.
    const holder = await connectClient(url)
    await holder.query('begin')
    await holder.query('lock table comments in access share mode')
    const { rows } = await holder.query<{ pid: number }>('select pg_backend_pid() as pid')
    const blocker = rows[0]?.pid ?? 0
    const first = run()
    let terminated = 0
    try {
      await expect
        .poll(
          async () => {
            const { rows: waiting } = await sql<{ ok: boolean }>`
              select pg_terminate_backend(pid) as ok from pg_stat_activity
              where ${blocker}::int = any (pg_blocking_pids(pid))`.execute(db)
            terminated += waiting.filter((w) => w.ok).length
            return terminated
          },
          { timeout: 60_000, interval: 20 },
        )
        .toBeGreaterThan(0)
    } finally {
      await holder.query('commit')
    }
    // Bounded: every statement waits at most lock_timeout, `attempts` times.
    return [await first, await run()]
  })
  expect(killed?.errors.map((e) => e.step?.partition)).toEqual(['posts_p20270201'])
  expect(killed?.created).toEqual(CREATED.slice(1))
  expect(next).toMatchObject({ errors: [], created: ['posts_p20270201'] })
})
