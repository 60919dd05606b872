export { parseDuration } from './config/duration.js'
export { parseConfig, type SluiceConfig } from './config/parse-config.js'
export { parseOptions } from './config/parse-options.js'
export { CONFIG_FIELDS, type SluiceConfigInput } from './config/schema.js'
export {
  type ParsedUrl,
  type PoolerMode,
  type PoolSettings,
  parsePostgresUrl,
  type SessionSettings,
  type SslSettings,
  type TargetConfig,
  type TargetOverrides,
  withTargetSettings,
} from './config/target.js'
export type { ConsistencySource } from './consistency.js'
export {
  type CloseOptions,
  createDatabase,
  type DatabaseOptions,
  type SluiceDatabase,
} from './database.js'
export type { AfterCommit, CommittedWrite } from './driver/commit-tracker.js'
export { postgresDialect } from './driver/postgres-dialect.js'
export { SluiceConnection } from './driver/sluice-connection.js'
export { type DriverOptions, SluiceDriver } from './driver/sluice-driver.js'
export {
  ConfigError,
  type ConfigIssue,
  ConnectionError,
  type ConnectionErrorCode,
  DatabaseClosedError,
  DatabaseNotReadyError,
  PeerVersionError,
  PoolTimeoutError,
  type ReadinessFailure,
  StatementTimeoutError,
  StreamClosedError,
  TargetRoleError,
} from './errors/errors.js'
export { isDatabaseError, toSluiceError } from './errors/pg-errors.js'
export { type ErrorContext, SluiceError, type SluiceErrorOptions } from './errors/sluice-error.js'
export {
  checkTarget,
  type HealthReport,
  healthReport,
  type PoolCounts,
  poolCounts,
  type TargetHealth,
} from './health.js'
export { coreChannels } from './instrumentation/channels.js'
export type {
  Instrumentation,
  PoolEvent,
  QueryEndEvent,
  QueryStartEvent,
} from './instrumentation/events.js'
export { cachedQueryInfo, type QueryInfo, queryInfo } from './instrumentation/query-info.js'
export { ShapeCache } from './instrumentation/shape-cache.js'
export { PEER_MINIMUMS } from './peers/peer-versions.js'
export { createPool } from './pool/create-pool.js'
export type { ReadyOptions } from './ready.js'
