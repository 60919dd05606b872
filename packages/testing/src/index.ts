export { type DevServers, startDevServers, type UpOptions } from './cli/up.js'
export { TestServerError } from './errors.js'
export { attachFaultProxy } from './faults/attached-proxy.js'
export {
  type FaultProxy,
  type FaultProxyInfo,
  type FaultProxyStats,
  type RetargetOptions,
  type StartFaultProxyOptions,
  startFaultProxy,
} from './faults/fault-proxy.js'
export { seededRandom } from './faults/seeded-random.js'
export { PgBouncer, type StartPgBouncerOptions, startPgBouncer } from './pgbouncer.js'
export type { PostgresEngine } from './postgres/binaries.js'
export {
  attachPostgres,
  type PgBouncerFront,
  type PostgresCluster,
  type PostgresClusterInfo,
  type StartPostgresOptions,
  startPostgres,
  type TestDatabase,
} from './postgres/cluster.js'
export { databaseName } from './postgres/database-name.js'
export type { AutoFailoverCluster } from './postgres/ha/auto-failover.js'
export type {
  HaCluster,
  HaDatabase,
  HaEngine,
  StartHaOptions,
  WaitForPrimaryOptions,
} from './postgres/ha/ha-cluster.js'
export type { PatroniCluster } from './postgres/ha/patroni.js'
export type { ReplicaServer } from './postgres/replica.js'
export { PostgresServer, type PostgresServerInfo } from './postgres/server.js'
export {
  type CertificateOptions,
  enableTls,
  generateCertificates,
  type TestCertificates,
} from './postgres/tls.js'
export { freePort } from './process/ports.js'
export type { ServerRestart } from './process/supervisor.js'
export { type WaitOptions, waitFor } from './process/wait.js'
export { type TestProfile, type TestProfileName, testProfile } from './profile/test-profile.js'
export type { RedisNode, RedisNodeInfo } from './redis/redis-node.js'
export {
  attachRedis,
  type RedisServer,
  type RedisServerInfo,
  type StartRedisOptions,
  startRedis,
} from './redis/redis-server.js'
