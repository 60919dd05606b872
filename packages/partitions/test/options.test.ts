import { ConfigError } from '@sluice/core'
import { sql } from 'kysely'
import { expect, test } from 'vitest'
import {
  createPartitionedTable,
  planMaintenance,
  runMaintenance,
  startMaintenance,
} from '../src/index.js'
import { inTransaction, maintenanceSettings } from '../src/maintenance/settings.js'
import { checkOptions } from '../src/options/options.js'
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
    {
      field: 'lockTimeoutMs',
      message: "must be a duration: milliseconds (250) or a string with a unit ('30s', '5m')",
    },
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

// Issue 13, session 10: every duration option follows core's one rule (readDuration through
// durationOption, as statementTimeoutMs and the cache's and router's options do): the same
// ConfigError, named by the option, with the same words, for the same bad values.
const DURATIONS = {
  planMaintenance: ['lockTimeoutMs', 'statementTimeoutMs'],
  runMaintenance: ['lockTimeoutMs', 'statementTimeoutMs', 'retryDelayMs', 'leaseMs', 'waitMs'],
  startMaintenance: [
    'lockTimeoutMs',
    'statementTimeoutMs',
    'retryDelayMs',
    'leaseMs',
    'waitMs',
    'intervalMs',
  ],
  createPartitionedTable: [
    'lockTimeoutMs',
    'statementTimeoutMs',
    'retryDelayMs',
    'leaseMs',
    'waitMs',
  ],
} as const
/** 0 means "none" or "at once" for these; a lock_timeout, a lease and a period start at 1 ms. */
const ZERO_ALLOWED = new Set(['statementTimeoutMs', 'retryDelayMs', 'waitMs'])
const NOT_A_DURATION =
  "must be a duration: milliseconds (250) or a string with a unit ('30s', '5m')"
const BAD: ReadonlyArray<readonly [unknown, string]> = [
  [-1, NOT_A_DURATION],
  [Number.NaN, NOT_A_DURATION],
  [Number.POSITIVE_INFINITY, NOT_A_DURATION],
  ['5 parsecs', NOT_A_DURATION],
  [true, NOT_A_DURATION],
  [0.5, 'must be a whole number of milliseconds'],
  [2 ** 31, 'must be at most 2147483647 ms'],
  ['25d', NOT_A_DURATION],
  ['600h', 'must be at most 2147483647 ms'],
]

test('every duration option of every entry point is refused by core’s rule, with the option named: 0, negative, NaN, Infinity, fractional, huge', async () => {
  const { db } = await freshDatabase()
  const call = (entry: keyof typeof DURATIONS, options: object) => {
    if (entry === 'startMaintenance') return () => startMaintenance(db, [events], options)
    if (entry === 'createPartitionedTable')
      return createPartitionedTable(db, events, (t) => t.addColumn('at', 'timestamptz'), options)
    return (entry === 'planMaintenance' ? planMaintenance : runMaintenance)(db, [events], options)
  }
  for (const [entry, keys] of Object.entries(DURATIONS) as [
    keyof typeof DURATIONS,
    readonly string[],
  ][]) {
    for (const key of keys) {
      const cases = ZERO_ALLOWED.has(key) ? BAD : [[0, 'must be at least 1 ms'] as const, ...BAD]
      for (const [value, message] of cases) {
        expect(await issuesOf(call(entry, { [key]: value })), `${entry} ${key}: ${value}`).toEqual([
          { field: key, message },
        ])
      }
    }
  }
  // Nothing reached the server.
  const { rows } = await sql<{ n: number }>`
    select count(*)::int as n from pg_class where relname like 'events%'`.execute(db)
  expect(rows).toEqual([{ n: 0 }])
})

test('duration options take a unit, and the server gets them in milliseconds', async () => {
  const { db } = await freshDatabase()
  const options = checkOptions('runMaintenance', {
    lockTimeoutMs: '2s',
    statementTimeoutMs: '1m',
    leaseMs: '3m',
    waitMs: 0,
    retryDelayMs: '250ms',
  })
  expect(options).toEqual({
    lockTimeoutMs: 2000,
    statementTimeoutMs: 60_000,
    leaseMs: 180_000,
    waitMs: 0,
    retryDelayMs: 250,
  })
  const { rows } = await inTransaction(db, maintenanceSettings(options), (trx) =>
    sql<{ lock: string; statement: string }>`
      select current_setting('lock_timeout') as lock, current_setting('statement_timeout') as statement`.execute(
      trx,
    ),
  )
  expect(rows).toEqual([{ lock: '2s', statement: '1min' }])
  // The defaults, as the server sees them.
  const defaults = await inTransaction(db, maintenanceSettings({}), (trx) =>
    sql<{ lock: string; statement: string }>`
      select current_setting('lock_timeout') as lock, current_setting('statement_timeout') as statement`.execute(
      trx,
    ),
  )
  expect(defaults.rows).toEqual([{ lock: '100ms', statement: '2min' }])
  const schedule = startMaintenance(db, [], { intervalMs: '1h', lockTimeoutMs: '250ms' })
  await schedule.stop()
})
