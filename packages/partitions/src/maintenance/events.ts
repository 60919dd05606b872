import { type ChannelNames, type HookChannels, hookChannels } from '@sluice/core/internal'
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
 * Partition maintenance's hook: typed sugar over {@link partitionChannels}, for one run or
 * schedule. A hook that throws never fails a run nor stops a schedule (it is reported once, as
 * a `SLUICE_HOOK_ERROR` process warning).
 *
 * @example
 * ```ts
 * const hooks: PartitionInstrumentation = {
 *   onMaintenance: (e) => e.kind === 'run' && console.log(e.result.created, e.result.durationMs),
 * }
 * ```
 */
export interface PartitionInstrumentation {
  onMaintenance?(event: MaintenanceEvent): void
}

/**
 * The `node:diagnostics_channel` channel partition maintenance publishes every
 * {@link MaintenanceEvent} on, of every run in the process; nothing is built while nobody listens.
 *
 * @example
 * ```ts
 * import { subscribe } from 'node:diagnostics_channel'
 * subscribe(partitionChannels.onMaintenance, (event) => console.log((event as MaintenanceEvent).kind))
 * ```
 */
export const partitionChannels = {
  onMaintenance: 'sluice:partitions',
} as const satisfies ChannelNames<PartitionInstrumentation>

/** Maintenance events: the hooks given, and {@link partitionChannels}. */
export type PartitionEvents = HookChannels<PartitionInstrumentation>

/**
 * The events of a run or schedule.
 *
 * @example
 * ```ts
 * partitionEvents({ onMaintenance: console.log }).onMaintenance.emit?.({ kind: 'error', error: new Error('x') })
 * ```
 */
export function partitionEvents(
  instrumentation: PartitionInstrumentation | readonly PartitionInstrumentation[] | undefined,
): PartitionEvents {
  return hookChannels(instrumentation, partitionChannels)
}
