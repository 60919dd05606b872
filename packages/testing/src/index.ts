export { TestServerError } from './errors.js'
export { attachFaultProxy } from './faults/attached-proxy.js'
export {
  type FaultProxy,
  type FaultProxyInfo,
  type FaultProxyStats,
  type StartFaultProxyOptions,
  startFaultProxy,
} from './faults/fault-proxy.js'
export { PgBouncer, type StartPgBouncerOptions, startPgBouncer } from './pgbouncer.js'
export {
  findPostgresBinaries,
  type PostgresBinaries,
  type PostgresEngine,
} from './postgres/binaries.js'
export {
  attachPostgres,
  PostgresCluster,
  type PostgresClusterInfo,
  type StartPostgresOptions,
  startPostgres,
  type TestDatabase,
} from './postgres/cluster.js'
export { ReplicaServer } from './postgres/replica.js'
export { PostgresServer, type PostgresServerInfo } from './postgres/server.js'
export { freePort } from './process/ports.js'
export { type WaitOptions, waitFor } from './process/wait.js'
export { RedisNode, type RedisNodeInfo } from './redis/redis-node.js'
export {
  attachRedis,
  RedisServer,
  type RedisServerInfo,
  type StartRedisOptions,
  startRedis,
} from './redis/redis-server.js'
