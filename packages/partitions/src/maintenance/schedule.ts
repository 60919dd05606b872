import type { AnyKysely } from '../any-kysely.js'
import { checkOptions } from '../options/options.js'
import { checkSpecs, type PartitionSpec } from '../spec/spec.js'
import { partitionEvents } from './events.js'
import { type RunOptions, runMaintenance } from './run.js'

/** Options of {@link startMaintenance}: a period, and what each run gets. */
export interface ScheduleOptions extends Omit<RunOptions, 'now'> {
  /** Time between the end of one run and the start of the next (at least 1 ms). Default 1 hour. */
  readonly intervalMs?: number | string
}

/** Periodic maintenance, from {@link startMaintenance}. */
export interface MaintenanceSchedule {
  /** Lets a running run finish, then stops. Idempotent. */
  stop(): Promise<void>
}

/**
 * Runs {@link runMaintenance} now and then every `intervalMs`, in the background, until
 * stopped. Each run reports a `run` event (or an `error` event) to `instrumentation`; a failed
 * run, or a hook that throws, never stops the schedule. Runs in several processes are safe: one
 * does the work, the others are skipped.
 *
 * @throws ConfigError (`CONFIG_INVALID`) at once, for a spec not made by `definePartitions`
 *   or an option of the wrong type or unknown (`now`: each run uses the current time).
 *
 * @example
 * ```ts
 * const schedule = startMaintenance(db, [messages], {
 *   intervalMs: 3_600_000,
 *   instrumentation: { onMaintenance: (e) => e.kind === 'error' && logger.error(e.error) },
 * })
 * process.on('SIGTERM', () => schedule.stop())
 * ```
 */
export function startMaintenance(
  db: AnyKysely,
  specs: readonly PartitionSpec[],
  scheduleOptions: ScheduleOptions = {},
): MaintenanceSchedule {
  checkSpecs(specs)
  const { intervalMs = 3_600_000, ...options } = checkOptions('startMaintenance', scheduleOptions)
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> = Promise.resolve()
  // A hook that throws must not stop the schedule (nor reject a promise nobody awaits).
  const events = partitionEvents(options.instrumentation)
  const tick = () => {
    running = runMaintenance(db, specs, options)
      .then(
        () => undefined,
        (error: unknown) => events.onMaintenance.emit?.({ kind: 'error', error }),
      )
      .then(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs)
      })
  }
  tick()
  return {
    stop: async () => {
      stopped = true
      clearTimeout(timer)
      await running
    },
  }
}
