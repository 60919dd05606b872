import { waitFor } from '@sluice/testing'
import type pg from 'pg'
import { describe, expect, it } from 'vitest'
import { ConnectionError, createPool } from '../src/index.js'
import { queryWithin, withDeadline } from '../src/internal/index.js'
import { freshDatabase } from './helpers.js'

/** Keeps the event loop busy for `ms`, as a long turn of a loaded process does. */
function blockFor(ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end) {
    // nothing: the answer arrives in the socket meanwhile, unread
  }
}

// On a loaded machine a turn of the event loop can outlast a deadline: the timer then runs
// before the loop reads the answer that came in time. The answer must win.
describe('a deadline that passes during a long event-loop turn', () => {
  it('withDeadline returns an answer that arrived in time', async () => {
    const { config } = await freshDatabase()
    const pool = createPool(config.primary)
    const client = await pool.connect()
    try {
      const answer = withDeadline(client.query('select 1 as one'), 100, () => 'expired')
      blockFor(600)
      expect(await answer).toMatchObject({ rows: [{ one: 1 }] })
    } finally {
      client.release(true)
      await pool.end()
    }
  })

  it('the statement deadline lets a statement answered in time succeed', async () => {
    const { config } = await freshDatabase({ DB_STATEMENT_TIMEOUT: '200ms' })
    const pool = createPool(config.primary)
    const client = await pool.connect()
    try {
      const answer = client.query('select 1 as one')
      blockFor(1000)
      expect((await answer).rows).toEqual([{ one: 1 }])
    } finally {
      client.release(true)
      await pool.end()
    }
  })
})

describe('queryWithin past its deadline', () => {
  const expired = () => new ConnectionError('DEADLINE_EXCEEDED', 'no answer in time')

  /** A pool of one connection, with the connections it opened and closed counted. */
  async function onePool(): Promise<{ pool: pg.Pool; opened: () => number; closed: () => number }> {
    // A pool timeout far past the checks' deadlines: only queryWithin's deadline passes.
    const { config } = await freshDatabase({ DB_POOL_SIZE: '1', DB_POOL_TIMEOUT: '30s' })
    const pool = createPool(config.primary)
    let opened = 0
    let closed = 0
    pool.on('connect', () => opened++)
    pool.on('remove', () => closed++)
    return { pool, opened: () => opened, closed: () => closed }
  }

  it('gives back, not destroys, a client the pool handed over after the deadline', async () => {
    const { pool, opened, closed } = await onePool()
    try {
      const held = await pool.connect()
      await held.query('select 1')
      // The check waits in the pool's queue behind the held client until its deadline passes.
      const check = queryWithin(pool, 'select 1', 100, expired)
      await expect(check).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' })
      held.release()
      // The queued checkout gets the client, never runs its query, and hands it back.
      await waitFor(() => pool.waitingCount === 0 && (pool.idleCount === 1 || closed() > 0), {
        what: 'the late checkout to end',
      })
      const again = await pool.connect()
      expect(again).toBe(held)
      again.release()
      expect({ opened: opened(), closed: closed(), total: pool.totalCount }).toEqual({
        opened: 1,
        closed: 0,
        total: 1,
      })
    } finally {
      await pool.end()
    }
  })

  it('destroys a client whose query was in flight at the deadline', async () => {
    const { pool, closed } = await onePool()
    try {
      await pool.query('select 1') // connected and idle: the check gets it at once
      const check = queryWithin(pool, 'select pg_sleep(2)', 200, expired)
      await expect(check).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' })
      await waitFor(() => closed() === 1, { what: 'the client to be destroyed' })
      expect(pool.totalCount).toBe(0)
    } finally {
      await pool.end()
    }
  })
})
