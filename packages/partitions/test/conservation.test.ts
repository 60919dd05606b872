import { sql } from 'kysely'
import { expect, test } from 'vitest'
import { conservation, holdComments } from './workloads/conservation.js'
import { CREATED } from './workloads/posts.js'

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
    // The first move's switch waits behind the holder, holding the parent: terminated then.
    const holder = await holdComments(url, db)
    const first = run()
    try {
      await expect.poll(holder.waiting, { timeout: 60_000, interval: 20 }).toBeGreaterThan(0)
      await sql`select pg_terminate_backend(${await holder.waiting()}::int)`.execute(db)
    } finally {
      await holder.release()
    }
    // Bounded: every statement waits at most lock_timeout, `attempts` times.
    return [await first, await run()]
  })
  expect(killed?.errors.map((e) => e.step?.partition)).toEqual(['posts_p20270201'])
  expect(killed?.created).toEqual(CREATED.slice(1))
  expect(next).toMatchObject({ errors: [], created: ['posts_p20270201'] })
})
