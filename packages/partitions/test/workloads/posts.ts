import type { Kysely } from 'kysely'
import {
  definePartitions,
  type MaintenanceResult,
  type RunOptions,
  runMaintenance,
} from '../../src/index.js'

// The conservation workload's table and its maintenance run, in a module without vitest so
// that a maintenance process of its own (processes/maintenance-child.ts) runs the same run.
export const NOVEMBER = new Date('2026-11-22T00:00:00Z')
export const FEBRUARY = new Date('2027-02-10T00:00:00Z')
export const LOCK_TIMEOUT_MS = 250
export const posts = definePartitions({
  table: 'posts',
  column: 'at',
  interval: 'month',
  premake: 2,
  defaultPartition: true,
  // The window reaches back to August: October's rows are given their partition.
  retention: { keep: 6, mode: 'detach' },
})
/** Every partition the workload's maintenance creates, in the order one run creates them. */
export const CREATED = ['posts_p20270201', 'posts_p20270301', 'posts_p20270401', 'posts_p20261001']

/**
 * The lease of a maintenance process that is killed: the next runner waits this long, not
 * the default 2 minutes, for the dead runner's lease to run out.
 */
export const KILLED_LEASE_MS = 1000

/**
 * The maintenance run the workload judges (with `options` added): in February, three future
 * ranges and one past range of rows wait in the default partition.
 */
export function maintainPosts(
  db: Kysely<unknown>,
  options: RunOptions = {},
): Promise<MaintenanceResult> {
  return runMaintenance(db, [posts], { now: FEBRUARY, lockTimeoutMs: LOCK_TIMEOUT_MS, ...options })
}
