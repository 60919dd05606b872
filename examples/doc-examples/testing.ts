declare const db: Kysely<DB>

declare const cluster: PostgresCluster

declare const replica: ReplicaServer

declare const redis: RedisServer

declare const node: RedisNode

declare const before: string

declare const registry: Registry

declare const redisPort: number

declare function inject<T = never>(key: string): T

declare const recorder: HistoryRecorder

declare const service: {
  updatePost(key: string, fields: object): Promise<unknown>
  getPost(key: string): Promise<{ version: number } | undefined>
}

declare const redisUrl: string

declare const bouncer: PgBouncer

declare const servers: DevServers
