import { definePartitions, type PartitionSpec, type PartitionSpecInput } from '@sluice/partitions'

/**
 * The time-series table of partition tests and benchmarks: monthly on the `timestamptz`
 * column `at`, one month premade, UTC; `overrides` change any of it (a retention, a default
 * partition, more premade months).
 *
 * @example
 * ```ts
 * const logs = monthlySpec('logs', { retention: { keep: 24, mode: 'drop' } })
 * ```
 */
export function monthlySpec(
  table: string,
  overrides: Partial<PartitionSpecInput> = {},
): PartitionSpec {
  return definePartitions({ table, column: 'at', interval: 'month', premake: 1, ...overrides })
}
