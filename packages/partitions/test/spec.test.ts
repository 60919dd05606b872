import { ConfigError } from '@sluice/core'
import { describe, expect, test } from 'vitest'
import {
  definePartitions,
  type PartitionSpecInput,
  RequirePartitionKeyPlugin,
} from '../src/index.js'

const base: PartitionSpecInput = { table: 'messages', column: 'sent_at', interval: 'month' }

/** The issues of the ConfigError `fn` throws. */
function issuesOf(fn: () => unknown): ConfigError['issues'] {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as ConfigError).issues
  }
  throw new Error('expected a ConfigError')
}

/** The fields a bad spec's ConfigError names. */
function badFields(input: unknown): string[] {
  const issues = issuesOf(() => definePartitions(input as PartitionSpecInput))
  return [...new Set(issues.map((issue) => issue.field))]
}

describe('definePartitions', () => {
  test('fills defaults and freezes the spec', () => {
    const spec = definePartitions({ ...base, retention: { keep: 24, mode: 'drop' } })
    expect(spec).toEqual({
      schema: 'public',
      table: 'messages',
      column: 'sent_at',
      interval: 'month',
      premake: 4,
      retention: { keep: { count: 24, unit: 'month' }, mode: 'drop' },
      timeZone: 'UTC',
      defaultPartition: false,
      indexes: [],
    })
    expect(Object.isFrozen(spec)).toBe(true)
    expect(Object.isFrozen(spec.retention?.keep)).toBe(true)
    const archived = definePartitions({
      ...base,
      table: 'app.audit_log',
      retention: { keep: '90 days', mode: 'archive', archiveSchema: 'archive' },
    })
    expect(archived).toMatchObject({ schema: 'app', table: 'audit_log' })
    expect(archived.retention?.keep).toEqual({ count: 90, unit: 'day' })
  })

  test.each([
    ['an unknown interval', { ...base, interval: 'fortnight' }, ['interval']],
    ['premake below 1', { ...base, premake: 0 }, ['premake']],
    [
      'retention shorter than one interval',
      { ...base, retention: { keep: '2 weeks', mode: 'drop' } },
      ['retention.keep'],
    ],
    [
      'a retention of 0 intervals',
      { ...base, retention: { keep: 0, mode: 'drop' } },
      ['retention.keep'],
    ],
    [
      'an archive without a schema',
      { ...base, retention: { keep: 3, mode: 'archive' } },
      ['retention.archiveSchema'],
    ],
    // Review finding: it was ignored, so the partitions were dropped, not archived.
    [
      "an archive schema with mode 'drop'",
      { ...base, retention: { keep: 3, mode: 'drop', archiveSchema: 'archive' } },
      ['retention.archiveSchema'],
    ],
    [
      "an archive schema with mode 'detach'",
      { ...base, retention: { keep: 3, mode: 'detach', archiveSchema: 'archive' } },
      ['retention.archiveSchema'],
    ],
    [
      'an unknown retention mode',
      { ...base, retention: { keep: 3, mode: 'truncate' } },
      ['retention.mode'],
    ],
    ['a table name with a quote', { ...base, table: 'messages"; drop table users; --' }, ['table']],
    ['a schema with a semicolon', { ...base, table: 'app;x.messages' }, ['table']],
    ['a column with a quote', { ...base, column: 'sent_at"' }, ['column']],
    [
      'an archive schema with a space',
      { ...base, retention: { keep: 3, mode: 'archive', archiveSchema: 'old data' } },
      ['retention.archiveSchema'],
    ],
    [
      'an archive schema over 63 bytes',
      { ...base, retention: { keep: 3, mode: 'archive', archiveSchema: 'a'.repeat(64) } },
      ['retention.archiveSchema'],
    ],
    [
      "an archive schema that is the table's own",
      { ...base, retention: { keep: 3, mode: 'archive', archiveSchema: 'public' } },
      ['retention.archiveSchema'],
    ],
    [
      'an index column with a quote',
      { ...base, indexes: [{ columns: ["x'"] }] },
      ['indexes.0.columns.0'],
    ],
    ['an unknown time zone', { ...base, timeZone: 'Mars/Olympus' }, ['timeZone']],
    ['a table name too long for its partitions', { ...base, table: 'x'.repeat(54) }, ['table']],
  ])('%s is a ConfigError naming the field', (_what, input, fields) => {
    expect(badFields(input)).toEqual(fields)
  })

  test('archive schemas are read as SQL reads them: unquoted folds, quoted keeps its case', () => {
    const archive = (archiveSchema: string) =>
      definePartitions({ ...base, retention: { keep: 3, mode: 'archive', archiveSchema } })
        .retention?.archiveSchema
    expect(archive('Old_Data')).toBe('old_data')
    expect(archive('"Old Data"')).toBe('Old Data')
    expect(archive(`"${'é'.repeat(31)}"`)).toBe('é'.repeat(31)) // 62 bytes
  })

  test('an unknown key, at any level, is a ConfigError naming it and where it belongs', () => {
    // Issue 13: a run option given in the spec was accepted and silently ignored.
    expect(issuesOf(() => definePartitions({ ...base, maxPartitionsPerRun: 5 } as never))).toEqual([
      {
        field: 'maxPartitionsPerRun',
        message: expect.stringMatching(
          /^unknown option maxPartitionsPerRun: an option of planMaintenance, runMaintenance, startMaintenance, createPartitionedTable/,
        ),
      },
    ])
    const misplaced = (input: unknown) =>
      issuesOf(() => definePartitions(input as PartitionSpecInput)).map((i) => i.message)
    expect(misplaced({ ...base, mode: 'drop' })).toEqual([
      "unknown option mode: a field of a spec's retention: { retention: { keep, mode, archiveSchema } }",
    ])
    expect(misplaced({ ...base, intervalMs: 1000 })).toEqual([
      expect.stringMatching(/^unknown option intervalMs: an option of startMaintenance,/),
    ])
    expect(
      badFields({
        ...base,
        retention: { keep: 3, mode: 'archive', archiveSchema: 'a', schema: 'b' },
      }),
    ).toEqual(['retention.schema'])
    expect(badFields({ ...base, indexes: [{ columns: ['at'], method: 'brin' }] })).toEqual([
      'indexes.0.method',
    ])
    expect(badFields({ ...base, premakes: 2, timezone: 'UTC' })).toEqual(['premakes', 'timezone'])
  })

  test('the query plugin takes only specs made by definePartitions, naming unknown keys', () => {
    const spec = definePartitions(base)
    expect(() => new RequirePartitionKeyPlugin([spec])).not.toThrow()
    expect(
      issuesOf(
        () => new RequirePartitionKeyPlugin([spec, { ...spec, maxPartitionsPerRun: 5 } as never]),
      ),
    ).toEqual([
      { field: 'specs.1.maxPartitionsPerRun', message: expect.stringContaining('runMaintenance') },
      { field: 'specs.1', message: expect.stringContaining('definePartitions()') },
    ])
  })

  test('messages never echo the bad value', () => {
    try {
      definePartitions({ ...base, table: 'messages; drop table users' })
    } catch (error) {
      expect(String((error as Error).message)).not.toContain('drop table')
    }
  })
})
