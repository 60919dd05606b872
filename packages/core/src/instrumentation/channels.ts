import type { Instrumentation } from './events.js'
import { type ChannelNames, type HookChannels, hookChannels } from './hook-channel.js'

/**
 * The `node:diagnostics_channel` channels core publishes on, by hook: every query's start and
 * end (`QueryStartEvent`, `QueryEndEvent`) and every pool event (`PoolEvent`), of every
 * database and router in the process. Nothing is built or published while nobody subscribes.
 *
 * @example
 * ```ts
 * import { subscribe } from 'node:diagnostics_channel'
 * subscribe(coreChannels.onQueryEnd, (event) => console.log((event as QueryEndEvent).durationMs))
 * ```
 */
export const coreChannels = {
  onQueryStart: 'sluice:query:start',
  onQueryEnd: 'sluice:query:end',
  onPoolEvent: 'sluice:pool',
} as const satisfies ChannelNames<Instrumentation>

/** Core's events: the hooks given, and {@link coreChannels}. */
export type CoreEvents = HookChannels<Instrumentation>

/** @see CoreEvents */
export function coreEvents(
  instrumentation: Instrumentation | readonly Instrumentation[] | undefined,
): CoreEvents {
  return hookChannels<Instrumentation>(instrumentation, coreChannels)
}
