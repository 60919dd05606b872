/**
 * `@sluice/core/internal`: plumbing that only Sluice's own packages use. Nothing here is part of
 * the public API; it may change in any release.
 *
 * @internal
 * @packageDocumentation
 */

export {
  analyzeQuery,
  baseName,
  cachedAnalysis,
  forEachNode,
  type QueryAnalysis,
  type QueryTable,
  qualifiedName,
  queryTables,
  type TreeNode,
} from '../analysis/analyze-query.js'
export {
  dialectOptions,
  type KyselyOptions,
  optionsObject,
  splitKyselyOptions,
} from '../config/client-options.js'
export {
  type DurationRule,
  durationOption,
  readDuration,
  TIMER_DURATION,
} from '../config/duration.js'
export { parseOptions } from '../config/parse-options.js'
export { withTargetSettings } from '../config/target.js'
export { postgresDialect } from '../driver/postgres-dialect.js'
export { SluiceConnection } from '../driver/sluice-connection.js'
export { type DriverOptions, SluiceDriver } from '../driver/sluice-driver.js'
export { DEFAULT_STREAM_IDLE_TIMEOUT_MS } from '../driver/stream-portal.js'
export { isDatabaseError, toSluiceError } from '../errors/pg-errors.js'
export { checkTarget, describeError, healthReport } from '../health.js'
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
  PEER_MINIMUMS,
  type PeerResolver,
} from '../peers/peer-versions.js'
export { withStatementTimeout } from '../pool/statement-timeout-scope.js'
export { checkReady, type ReadyTarget } from '../ready.js'
export { closeOnce } from './close-once.js'
export { MAX_TIMER_MS, withDeadline } from './deadline.js'
export { queryWithin } from './query-within.js'
export { timeoutOption } from './timeout-option.js'
