// Started by orphans.test.ts: starts a PostgreSQL primary and a Redis, prints where they are,
// and waits to be killed with SIGKILL (so none of its exit hooks run).
import { startPostgres, startRedis } from '../../src/index.js'

const cluster = await startPostgres()
const redis = await startRedis()
const started = {
  dataDir: cluster.primary.dataDir,
  root: cluster.info.root,
  pgPort: cluster.primary.port,
  redisPort: redis.nodes[0]?.port,
}
process.stdout.write(`${JSON.stringify(started)}\n`)
setInterval(() => {}, 60_000)
