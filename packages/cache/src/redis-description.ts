import { Cluster, type Redis } from 'ioredis'

/**
 * Where a Redis client points, for messages: `redis host:port`, `redis socket <path>`, or
 * `redis cluster host:port,...` (its startup nodes). Never the password.
 *
 * @example
 * ```ts
 * describeRedis(new Redis('redis://:secret@cache.internal:6380')) // 'redis cache.internal:6380'
 * ```
 */
export function describeRedis(client: Redis | Cluster): string {
  if (client instanceof Cluster) {
    const nodes = client.nodes().map((node) => `${node.options.host}:${node.options.port}`)
    return `redis cluster ${nodes.length > 0 ? nodes.join(',') : '(no nodes yet)'}`
  }
  const { host, port, path } = client.options
  return path ? `redis socket ${path}` : `redis ${host ?? 'localhost'}:${port ?? 6379}`
}
