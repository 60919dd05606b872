/**
 * `@sluice/core/internal`: plumbing that only Sluice's own packages use. Nothing here is part of
 * the public API; it may change in any release.
 *
 * @internal
 * @packageDocumentation
 */

export {
  type DurationRule,
  durationOption,
  readDuration,
  TIMER_DURATION,
} from '../config/duration.js'
export { DEFAULT_STREAM_IDLE_TIMEOUT_MS } from '../driver/stream-portal.js'
export { describeError } from '../health.js'
export {
  type ChannelNames,
  HookChannel,
  type HookChannels,
  type HookEvent,
  hookChannels,
} from '../instrumentation/hook-channel.js'
export { guardHook } from '../instrumentation/hook-errors.js'
export {
  checkPeer,
  checkPeerVersion,
  installedVersion,
  type PeerResolver,
} from '../peers/peer-versions.js'
export { checkReady, type ReadyTarget } from '../ready.js'
export { MAX_TIMER_MS, withDeadline } from './deadline.js'
export { queryWithin } from './query-within.js'
export { timeoutOption } from './timeout-option.js'
