import { expect } from 'vitest'
import type { RoutedDatabase } from '../../src/index.js'
import { type DB, waitFor } from '../helpers.js'
import { readItem, ServedHistory } from './served-history.js'

/** Options of {@link writeThenReadPairs}. */
export interface PairsOptions {
  readonly pairs: number
  /** Sessions running at once. */
  readonly concurrency: number
  /** Names the rows (`<prefix>-<n>`) and actors, unique per run on one cluster. */
  readonly prefix: string
}

/**
 * Runs `pairs` sessions, `concurrency` at a time, each inserting a row of `items` and then
 * reading it back, and records them: judge the history with `expectKept`.
 */
export async function writeThenReadPairs(
  database: RoutedDatabase<DB>,
  { pairs, concurrency, prefix }: PairsOptions,
): Promise<ServedHistory> {
  const history = new ServedHistory()
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async (_, lane) => {
      const actor = `${prefix}-lane-${lane}`
      while (next < pairs) {
        const name = `${prefix}-${next++}`
        await database.session(async () => {
          await history.write(actor, name, 1, () =>
            database.db.insertInto('items').values({ name }).execute(),
          )
          await history.read(actor, name, () => readItem(database.db, name))
        })
      }
    }),
  )
  return history
}

/**
 * Expects a session's reads to go back to replicas once they have replayed its write, and the
 * replica that answers to see the write.
 */
export async function expectBackOnReplicas(
  database: RoutedDatabase<DB>,
  labelOf: (port: number) => string,
  name: string,
): Promise<void> {
  await database.session(async () => {
    await database.db.insertInto('items').values({ name }).execute()
    const read = await waitFor(
      async () => {
        const answer = await readItem(database.db, name)
        return labelOf(answer.port) !== 'primary' && answer
      },
      { what: 'session reads to return to a replica' },
    )
    expect(read).toMatchObject({ standby: true, version: 1 })
  })
}
