import { describe, expect, it } from 'vitest'
import { createPool } from '../src/index.js'
import { withDeadline } from '../src/internal/index.js'
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
