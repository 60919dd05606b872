import { type Kysely, sql } from 'kysely'
import { beforeAll, describe, expect, test } from 'vitest'
import {
  createPartitionedTable,
  definePartitions,
  listPartitions,
  maintenanceStatus,
  PartitionError,
  RequirePartitionKeyPlugin,
  runMaintenance,
} from '../src/index.js'
import { bounds, freshDatabase } from './helpers.js'

// Review finding: a spec of `app.messages` claimed the bare name `messages`. Two tables of
// the same name in two schemas, each with its own spec, must not collide anywhere.
interface DB {
  messages: { id: number; sent_at: Date; created_at: Date }
  'app.messages': { id: number; sent_at: Date; created_at: Date }
}

const JUNE = new Date('2026-06-10T00:00:00Z')
const retention = { keep: 2, mode: 'archive', archiveSchema: 'archive' } as const
// The same table name, different keys: a plugin or a lookup that mixes them up shows.
const inApp = definePartitions({
  table: 'app.messages',
  column: 'sent_at',
  interval: 'month',
  premake: 1,
  retention,
})
const inPublic = definePartitions({
  table: 'messages',
  column: 'created_at',
  interval: 'month',
  premake: 1,
  retention,
})
let db: Kysely<DB>

beforeAll(async () => {
  const fresh = await freshDatabase()
  db = fresh.db as unknown as Kysely<DB>
  await sql`create schema app`.execute(db)
  for (const spec of [inApp, inPublic]) {
    await createPartitionedTable(
      fresh.db,
      spec,
      (t) =>
        t
          .addColumn('id', 'int4')
          .addColumn('sent_at', 'timestamptz', (c) => c.notNull())
          .addColumn('created_at', 'timestamptz', (c) => c.notNull()),
      { now: new Date('2026-01-10T00:00:00Z') },
    )
  }
})

describe('two specs with the same table name in two schemas', () => {
  test("the strict plugin reads a bare name as public's table, and app's spec as app's only", async () => {
    const refuse = async (query: { execute(): Promise<unknown> }) => {
      const error = await query.execute().catch((e: unknown) => e)
      expect(error).toBeInstanceOf(PartitionError)
      expect(error).toMatchObject({ code: 'PARTITION_KEY_REQUIRED' })
    }
    const both = db.withPlugin(new RequirePartitionKeyPlugin([inPublic, inApp]))
    const since = new Date('2026-02-01T00:00:00Z')
    // public.messages is keyed on created_at, app.messages on sent_at.
    await expect(
      both.selectFrom('messages').selectAll().where('created_at', '>=', since).execute(),
    ).resolves.toEqual([])
    await refuse(both.selectFrom('messages').selectAll().where('sent_at', '>=', since))
    await expect(
      both.selectFrom('app.messages').selectAll().where('sent_at', '>=', since).execute(),
    ).resolves.toEqual([])
    await refuse(both.selectFrom('app.messages').selectAll().where('created_at', '>=', since))
    await expect(
      both
        .withSchema('app')
        .selectFrom('messages')
        .selectAll()
        .where('sent_at', '>=', since)
        .execute(),
    ).resolves.toEqual([])
    // With app's spec alone, a bare `messages` (public's table) is not its business.
    const appOnly = db.withPlugin(new RequirePartitionKeyPlugin([inApp]))
    await expect(appOnly.selectFrom('messages').selectAll().execute()).resolves.toEqual([])
    await refuse(appOnly.selectFrom('app.messages').selectAll())
  })

  test('maintenance keeps their partitions, state and archives apart', async () => {
    const result = await runMaintenance(db as unknown as Kysely<unknown>, [inApp, inPublic], {
      now: JUNE,
    })
    expect(result.errors).toEqual([])
    // Each archived its own January and February; the names collided in `archive`.
    for (const table of ['app.messages', 'public.messages']) {
      expect((await bounds(db as unknown as Kysely<unknown>, table)).map((b) => b.name)).toEqual([
        'messages_p20260601',
        'messages_p20260701',
      ])
    }
    const status = await maintenanceStatus(db)
    expect(status.map((s) => [s.table, s.lastError])).toEqual([
      ['app.messages', null],
      ['public.messages', null],
    ])
    const archived = async (table: string) =>
      (await listPartitions(db, table, 'archive'))
        .filter((p) => !p.attached)
        .map((p) => `${p.schema}.${p.name}`)
    const fromApp = await archived('app.messages')
    const fromPublic = await archived('public.messages')
    expect(fromApp).toHaveLength(2)
    expect(fromPublic).toHaveLength(2)
    expect(fromApp.filter((name) => fromPublic.includes(name))).toEqual([])
  })
})
