import { startFaultProxy } from '@sluice/testing'
import { sql } from 'kysely'
import { expect, test } from 'vitest'
import type { MaintenanceResult } from '../../src/index.js'
import { openDatabase } from '../open-database.js'
import { conservation, holdComments } from '../workloads/conservation.js'
import { CREATED, KILLED_LEASE_MS, maintainPosts } from '../workloads/posts.js'

// A maintenance runner whose link to the server (PgBouncer in production) is cut while its
// switch holds the parent and waits: its backend ends within lock_timeout, the run reports
// the steps it could not do, nothing is lost or hidden, and the next run does the rest.
test('a runner whose connection is cut mid-switch loses, duplicates and hides nothing; the next run completes the work', {
  timeout: 180_000,
}, async () => {
  let cut: MaintenanceResult | undefined
  let thrown: unknown
  const [next] = await conservation(async ({ db, url, env }) => {
    const target = new URL(url)
    const proxy = await startFaultProxy({ host: target.hostname, port: Number(target.port) })
    target.host = `${proxy.host}:${proxy.port}`
    const runner = openDatabase({ ...env, DATABASE_URL: target.href })
    try {
      const holder = await holdComments(url, db)
      let backend = 0
      // A short lease: the cut run cannot give its lease back, the next run waits it out.
      const running = maintainPosts(runner.db, { leaseMs: KILLED_LEASE_MS })
      try {
        await expect
          .poll(async () => (backend = await holder.waiting()), { timeout: 60_000, interval: 20 })
          .toBeGreaterThan(0)
        await proxy.cut()
      } finally {
        await holder.release()
      }
      // The cut client's backend goes once its wait ends; the run's next steps find no link.
      await expect
        .poll(
          async () =>
            (
              await sql<{ n: number }>`
                select count(*)::int as n from pg_stat_activity where pid = ${backend}::int`.execute(
                db,
              )
            ).rows[0]?.n,
          { timeout: 30_000, interval: 20 },
        )
        .toBe(0)
      cut = await running.catch((error: unknown) => {
        thrown = error
        return undefined
      })
      await proxy.restore()
      return [await maintainPosts(runner.db, { waitMs: 10 * KILLED_LEASE_MS })]
    } finally {
      await runner.close()
      await proxy.stop()
    }
  })
  // The cut run rejects (ConnectionError: it cannot even give its lease back) or reports
  // the steps it could not do; either way it never created the partition it was switching.
  if (!cut) expect(thrown).toMatchObject({ name: 'ConnectionError' })
  expect(cut?.created ?? []).not.toContain('posts_p20270201')
  expect(next?.errors).toEqual([])
  expect([...(cut?.created ?? []), ...(next?.created ?? [])].sort()).toEqual([...CREATED].sort())
})
