import { ConfigError } from '@sluice/core'
import { sql } from 'kysely'
import { expect, test } from 'vitest'
import {
  createPartitionedTable,
  planMaintenance,
  runMaintenance,
  startMaintenance,
} from '../src/index.js'
import { freshDatabase, monthly } from './helpers.js'

// Issue 13: every object an entry point takes refuses unknown keys (a spec field given as a
// run option, a run option given to the planner...), naming the key and where it belongs,
// before anything reaches the server.
const events = monthly('events')

async function issuesOf(promise: Promise<unknown> | (() => unknown)) {
  const error = await (typeof promise === 'function' ? (async () => promise())() : promise).then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(error).toBeInstanceOf(ConfigError)
  return (error as ConfigError).issues
}

test('every entry point refuses unknown and misplaced options and hand-made specs before touching the server', async () => {
  const { db } = await freshDatabase()
  await sql`create table events (id bigint, at timestamptz not null) partition by range (at)`.execute(
    db,
  )
  expect(await issuesOf(runMaintenance(db, [events], { premake: 2 } as never))).toEqual([
    {
      field: 'premake',
      message:
        'unknown option premake: a field of the spec: give it to definePartitions({ premake })',
    },
  ])
  expect(await issuesOf(planMaintenance(db, [events], { attempts: 3 } as never))).toEqual([
    {
      field: 'attempts',
      message: expect.stringMatching(/^unknown option attempts: an option of runMaintenance, /),
    },
  ])
  expect(
    await issuesOf(() =>
      startMaintenance(db, [events], { now: new Date(), lockTimeout: 5 } as never),
    ),
  ).toEqual([
    {
      field: 'now',
      message: expect.stringContaining('an option of planMaintenance, runMaintenance'),
    },
    { field: 'lockTimeout', message: 'unknown option lockTimeout' },
  ])
  expect(
    await issuesOf(
      createPartitionedTable(db, events, (t) => t.addColumn('at', 'timestamptz'), {
        ifNotExist: true,
      } as never),
    ),
  ).toEqual([{ field: 'ifNotExist', message: 'unknown option ifNotExist' }])
  // A spec that did not come through definePartitions was never validated.
  expect(
    await issuesOf(
      runMaintenance(db, [{ ...events, maxPartitionsPerRun: 1 } as never], { lockTimeoutMs: 200 }),
    ),
  ).toEqual([
    { field: 'specs.0.maxPartitionsPerRun', message: expect.stringContaining('runMaintenance') },
    { field: 'specs.0', message: expect.stringContaining('definePartitions()') },
  ])
  // Values are checked too.
  expect(
    await issuesOf(runMaintenance(db, [events], { lockTimeoutMs: -1, now: new Date('x') })),
  ).toEqual([
    { field: 'now', message: 'must be a valid Date' },
    { field: 'lockTimeoutMs', message: 'must be a number of milliseconds, 1 or more' },
  ])
  // Nothing reached the server: no metadata schema, no partition, no table created.
  const { rows } = await sql<{ schemas: number; tables: number }>`
    select (select count(*)::int from pg_namespace where nspname = 'sluice_partitions') as schemas,
      (select count(*)::int from pg_class where relname like 'events%') as tables`.execute(db)
  expect(rows).toEqual([{ schemas: 0, tables: 1 }])
  // The same options, where they belong, are accepted.
  const result = await runMaintenance(db, [events], { maxPartitionsPerRun: 1 })
  expect(result.errors.map((e) => (e.error as Error).message)).toEqual([
    expect.stringContaining('maxPartitionsPerRun'),
  ])
  expect(result.created).toHaveLength(1)
})
