import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SluiceDatabase } from '../src/index.js'
import { freshDatabase, testDatabase } from './helpers.js'

interface DB {
  numbers: { n: number; pad: string }
}
let database: SluiceDatabase<DB>

beforeAll(async () => {
  const { config } = await freshDatabase()
  database = testDatabase<DB>(config)
  await sql`create view numbers as select g as n, repeat('x', 100) as pad from generate_series(1, 1000000) g`.execute(
    database.db,
  )
})
afterAll(() => database?.close())

const gc = (globalThis as { gc?: () => void }).gc

describe('streaming through pg-cursor', () => {
  it('streams 1,000,000 rows with heap growth far below the result size', async () => {
    gc?.()
    const baseline = process.memoryUsage().heapUsed
    let peak = 0
    let count = 0
    let sum = 0
    for await (const row of database.db.selectFrom('numbers').selectAll().stream(1000)) {
      count++
      sum += row.n
      if (count % 50_000 === 0) {
        gc?.()
        peak = Math.max(peak, process.memoryUsage().heapUsed - baseline)
      }
    }
    expect(count).toBe(1_000_000)
    expect(sum).toBe((1_000_000 * 1_000_001) / 2)
    // The result is over 100 MB of row data (far more as JS objects); the stream holds a chunk.
    expect(peak).toBeLessThan(32 * 1024 * 1024)
  })

  it('closes the cursor and returns the connection when the consumer stops early', async () => {
    for await (const row of database.db.selectFrom('numbers').selectAll().stream(100)) {
      if (row.n === 250) break
    }
    const { rows } = await sql<{ one: number }>`select 1 as one`.execute(database.db)
    expect(rows).toEqual([{ one: 1 }])
  })
})
