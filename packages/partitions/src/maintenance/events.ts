import type { Instrumentation } from '@sluice/core'
import type { MaintenanceResult } from './run.js'

/** What partition maintenance reports. */
export type MaintenanceEvent =
  /** A run finished (or was skipped: another runner holds the lock). */
  | { readonly kind: 'run'; readonly result: MaintenanceResult }
  /** A statement hit `lock_timeout` and will be tried again after `delayMs`. */
  | {
      readonly kind: 'retry'
      readonly sql: string
      readonly attempt: number
      readonly delayMs: number
    }
  /** A run failed as a whole (e.g. the database was unreachable). */
  | { readonly kind: 'error'; readonly error: unknown }

/**
 * Core's hooks plus partition maintenance events.
 *
 * @example
 * ```ts
 * const hooks: PartitionInstrumentation = {
 *   onMaintenance: (e) => e.kind === 'run' && console.log(e.result.created, e.result.durationMs),
 * }
 * ```
 */
export interface PartitionInstrumentation extends Instrumentation {
  onMaintenance?(event: MaintenanceEvent): void
}
