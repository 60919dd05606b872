import type { Generated, Kysely } from 'kysely'
import { beforeAll, describe, expect, test } from 'vitest'
import {
  createPartitionedTable,
  definePartitions,
  explainPartitions,
  PartitionError,
  partitionRange,
  RequirePartitionKeyPlugin,
} from '../src/index.js'
import { freshDatabase } from './helpers.js'

interface DB {
  messages: { id: Generated<number>; author: string; sent_at: Date }
  authors: { name: string; sent_at: Date | null }
}

const messages = definePartitions({
  table: 'messages',
  column: 'sent_at',
  interval: 'month',
  premake: 3,
  timeZone: 'Europe/Berlin',
})
const february = { from: new Date('2026-01-31T23:00:00Z'), to: new Date('2026-02-28T23:00:00Z') }
let db: Awaited<ReturnType<typeof freshDatabase>>['db']
const typed = () => db as unknown as Kysely<DB>

beforeAll(async () => {
  ;({ db } = await freshDatabase())
  await createPartitionedTable(
    db,
    messages,
    (t) =>
      t
        .addColumn('id', 'serial')
        .addColumn('author', 'text', (c) => c.notNull())
        .addColumn('sent_at', 'timestamptz', (c) => c.notNull()),
    { now: new Date('2026-01-10T00:00:00Z') },
  )
  await typed()
    .schema.createTable('authors')
    .addColumn('name', 'text')
    .addColumn('sent_at', 'timestamptz')
    .execute()
  await typed()
    .insertInto('messages')
    .values([
      { author: 'ann', sent_at: new Date('2026-01-15T00:00:00Z') },
      { author: 'ann', sent_at: new Date('2026-02-15T00:00:00Z') },
      { author: 'bob', sent_at: new Date('2026-03-15T00:00:00Z') },
    ])
    .execute()
})

describe('partition-aware queries', () => {
  test('a query through partitionRange scans one partition (PostgreSQL’s own plan), and returns its rows', async () => {
    const query = typed()
      .selectFrom('messages')
      .selectAll()
      .where(partitionRange(messages, february))
    expect(await explainPartitions(db, query)).toEqual(['messages_p20260201'])
    expect((await query.execute()).map((m) => m.sent_at.toISOString())).toEqual([
      '2026-02-15T00:00:00.000Z',
    ])
    const everything = typed().selectFrom('messages').selectAll()
    expect(await explainPartitions(db, everything)).toEqual([
      'messages_p20260101',
      'messages_p20260201',
      'messages_p20260301',
      'messages_p20260401',
    ])
  })

  test('the strict plugin rejects queries on the table without its key, and lets keyed ones through', async () => {
    const strict = typed().withPlugin(new RequirePartitionKeyPlugin([messages]))
    const unkeyed = [
      strict.selectFrom('messages').selectAll().where('author', '=', 'ann'),
      strict
        .selectFrom('authors')
        .innerJoin('messages', 'messages.author', 'authors.name')
        .selectAll(),
      strict.updateTable('messages').set({ author: 'ann' }).where('id', '=', 1),
      strict.deleteFrom('messages as m').where('m.author', '=', 'nobody'),
      // Predicates that mention the key but do not prune (issue 13, item 16).
      strict.selectFrom('messages').selectAll().where('sent_at', 'is not', null),
      strict
        .selectFrom('messages')
        .selectAll()
        .where((eb) =>
          eb.or([eb('sent_at', '>', new Date('2026-03-01')), eb('author', '=', 'ann')]),
        ),
      strict
        .selectFrom('messages')
        .innerJoin('authors', 'authors.name', 'messages.author')
        .selectAll()
        .where('authors.sent_at', '>=', new Date('2026-03-01')),
      strict.selectFrom('messages').selectAll().where('sent_at', '<>', new Date('2026-03-01')),
    ]
    for (const query of unkeyed) {
      const error = await query.execute().catch((e: unknown) => e)
      expect(error).toBeInstanceOf(PartitionError)
      expect(error).toMatchObject({ code: 'PARTITION_KEY_REQUIRED' })
      expect((error as Error).message).toContain('sent_at')
    }
    const keyed = [
      strict.selectFrom('messages').selectAll().where(partitionRange(messages, february)),
      strict.selectFrom('messages').selectAll().where('sent_at', '>=', new Date('2026-03-01')),
      strict.selectFrom('authors').selectAll(), // not partitioned
      strict
        .selectFrom('messages as m')
        .innerJoin('authors', 'authors.name', 'm.author')
        .selectAll()
        .where('m.sent_at', '>=', new Date('2026-03-01')),
      strict
        .selectFrom('messages')
        .selectAll()
        .where((eb) =>
          eb.or([
            eb('sent_at', '<', new Date('2026-02-01')),
            eb.between('sent_at', new Date('2026-03-01'), new Date('2026-03-02')),
          ]),
        ),
    ]
    for (const query of keyed) await expect(query.execute()).resolves.toBeDefined()
  })
})
