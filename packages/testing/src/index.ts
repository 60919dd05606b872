export { TestServerError } from './errors.js'
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
export {
  type CertificateOptions,
  enableTls,
  generateCertificates,
  type TestCertificates,
} from './postgres/tls.js'
export { freePort } from './process/ports.js'
export { type WaitOptions, waitFor } from './process/wait.js'
export { RedisNode, RedisServer, type StartRedisOptions, startRedis } from './redis/redis-server.js'
