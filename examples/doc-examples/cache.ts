declare const database: RoutedDatabase<DB>

declare const db: Kysely<DB>

declare const cache: Cache

declare const store: CacheStore

declare const options: { ttlMs?: number }

declare const cacheOptions: ResolvedCacheOptions

declare function loadFeed(): Promise<unknown[]>

declare function loadUser(id: number): Promise<User>

declare function loadUserFromDatabase(id: number): Promise<User>

declare const payload: string

declare const entry: unknown

declare const counter: import('prom-client').Counter

declare const generation: Parameters<typeof floorOf>[1]

declare const versions: Parameters<typeof floorOf>[2]

declare const emit: Parameters<typeof runAtFloor>[3]

declare const map: Parameters<typeof mergeDependencies>[0]

declare class MyStore extends MemoryStore {}
