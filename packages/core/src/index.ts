export type { QueryInfo } from './analysis/analyze-query.js'
export { parseConfig, type SluiceConfig } from './config/parse-config.js'
export type { SluiceConfigInput } from './config/schema.js'
export type {
  PoolerMode,
  PoolSettings,
  ServerSettings,
  SslSettings,
  TargetConfig,
} from './config/target.js'
export type { ConsistencySource } from './consistency.js'
export {
  createDatabase,
  type DatabaseOptions,
  type SluiceDatabase,
} from './database.js'
export {
  type CloseOptions,
  type DatabaseLifecycle,
  type SluiceDialect,
  type SluiceDialectOptions,
  sluiceDialect,
} from './dialect.js'
export type { AfterCommit, CommittedWrite } from './driver/commit-tracker.js'
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
export { type ErrorContext, SluiceError, type SluiceErrorOptions } from './errors/sluice-error.js'
export type { HealthReport, PoolCounts, TargetHealth } from './health.js'
export { coreChannels } from './instrumentation/channels.js'
export type {
  Instrumentation,
  PoolEvent,
  QueryEndEvent,
  QueryStartEvent,
} from './instrumentation/events.js'
export { createPool } from './pool/create-pool.js'
export type { ReadyOptions } from './ready.js'
