import { ConfigError } from '@sluice/core'
import { describe, expect, test } from 'vitest'
import { createPartitionedTable, definePartitions, runMaintenance } from '../src/index.js'
import { freshDatabase } from './helpers.js'

const fields = (make: () => unknown) => {
  try {
    make()
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((issue) => issue.field)
    throw error
  }
  return []
}

describe('huge premake and retention', () => {
  test('a premake or keep too large to plan is a ConfigError naming it; the largest accepted run on a real server', async () => {
    // premake 1e6 days planned for minutes (1,000 took 0.4 s), and keep '300000 years' threw
    // a bare RangeError (`Invalid time value`) out of planMaintenance.
    expect(
      fields(() => definePartitions({ table: 'm', column: 'at', interval: 'day', premake: 1001 })),
    ).toEqual(['premake'])
    for (const keep of ['300000 years', '1001 years', 365_001, 1e12]) {
      expect(
        fields(() =>
          definePartitions({
            table: 'm',
            column: 'at',
            interval: 'day',
            retention: { keep, mode: 'drop' },
          }),
        ),
        String(keep),
      ).toEqual(['retention.keep'])
    }

    const { db } = await freshDatabase()
    const largest = definePartitions({
      table: 'm',
      column: 'at',
      interval: 'year',
      premake: 1000,
      retention: { keep: '1000 years', mode: 'drop' },
    })
    await createPartitionedTable(
      db,
      definePartitions({ table: 'm', column: 'at', interval: 'year' }),
      (t) => t.addColumn('at', 'timestamptz', (c) => c.notNull()),
    )
    const result = await runMaintenance(db, [largest], { maxPartitionsPerRun: 2 })
    expect(result.errors.map(({ error }) => (error as { code?: string }).code)).toEqual([
      'PARTITION_LIMIT_REACHED',
    ])
    expect(result.created).toHaveLength(2)
  })
})
