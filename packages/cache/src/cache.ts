import type { AfterCommit } from '@sluice/core'
import type { cachedAnalysis } from '@sluice/core/internal'
import type { Duration } from './options/cache-options.js'
import type { LoadOptions } from './options/load-options.js'
import type { StoreHealth } from './store/guarded-store.js'

/** A Kysely query the cache can run: anything with `compile()` and `execute()`. */
export interface CacheableQuery<R> {
  compile(): {
    readonly sql: string
    readonly parameters: readonly unknown[]
    readonly query: Parameters<typeof cachedAnalysis>[0]['query']
  }
  execute(): Promise<R[]>
}

/** Options of `cache.query`. */
export interface QueryOptions extends LoadOptions {
  /** The key; by default one derived from `database`, the SQL and the typed parameters. */
  readonly key?: string
  /**
   * The database the query runs on (a name, e.g. the tenant's), part of the derived key so
   * that one SQL on two databases never shares an entry. Default: the cache's `database`.
   */
  readonly database?: string
}

/** What `cache.health()` reports. */
export interface CacheHealth extends StoreHealth {
  /** `redis` when the shared tier is Redis (or a `RedisStore`), else `memory` or the store's name. */
  readonly mode: 'redis' | 'memory' | 'custom'
  /** Whether the invalidation channel is subscribed (`undefined` without one). */
  readonly bus: boolean | undefined
  readonly closed: boolean
}

/**
 * Cache-aside over an in-process LRU and a shared store (Redis, or memory with `redis: false`).
 *
 * @example
 * ```ts
 * const cache: Cache = createCache({ redis: process.env.REDIS_URL, namespace: 'app' })
 * const user = await cache.getOrLoad(`user:${id}`, () => findUser(id), { ttlMs: '1h' })
 * await cache.delete(`user:${id}`) // after updating the user
 * ```
 */
export interface Cache {
  /**
   * The cached value, or the loader's (run once per key across callers and processes). A
   * loader's `undefined` means "not found" (cached only with `negativeTtlMs`). A loader that
   * throws caches nothing; every caller waiting on it gets its error. A loader that does not
   * settle within `loadTimeoutMs` gives its callers `CACHE_LOAD_TIMEOUT`.
   */
  getOrLoad<T>(
    key: string,
    loader: () => Promise<T | undefined>,
    options?: LoadOptions,
  ): Promise<T | undefined>
  /** A fresh cached value, or `undefined`; never loads. */
  get<T>(key: string): Promise<T | undefined>
  /**
   * Stores a value; loads of the key already running cannot overwrite it, a later `delete`
   * wins. With `consistency` it records the floor a `delete` would (the session's latest write
   * inside a `session()`, else every committed write), so the reload once the entry expires or
   * is evicted reads at least the write the value came from.
   */
  set<T>(key: string, value: T, options?: Pick<LoadOptions, 'ttlMs' | 'tags'>): Promise<void>
  /**
   * Invalidates one key or several, everywhere. With `consistency`, the loads after it read
   * at least the session's latest write (inside a `session()`), else every committed write.
   */
  delete(keys: string | readonly string[]): Promise<void>
  /** Makes every entry loaded under any of these tags a miss (with a floor, as `delete`). */
  invalidateTags(tags: readonly string[]): Promise<void>
  /** `set` for many entries, e.g. at start-up (one floor for them all). */
  warm(
    entries: ReadonlyArray<{
      key: string
      value: unknown
      ttlMs?: LoadOptions['ttlMs']
      tags?: readonly string[]
    }>,
  ): Promise<void>
  /**
   * Runs a Kysely query through the cache. The key defaults to one derived from the database
   * name, the SQL and the typed parameters; each table it reads adds a {@link tableTag}.
   *
   * @throws CacheError `CACHE_OPTION_INVALID` (field `database`) without a database name.
   */
  query<R>(query: CacheableQuery<R>, options?: QueryOptions): Promise<R[]>
  /**
   * Write-path invalidation: pass it as a Sluice database's `afterCommit`, and each committed
   * write to a table invalidates its {@link tableTag}, after COMMIT and before the commit
   * returns to the writer; a rolled-back transaction invalidates nothing. With `consistency`
   * the reloads read at least the commit: the cache asks the commit for its token
   * (`CommittedWrite.token()`), which the router reads on the committing connection before
   * releasing it: inside a read-your-writes scope the position read-your-writes read anyway
   * (no extra query), outside one one query on that connection (a full pool cannot hold it up).
   * Pass the commit on when wrapping it: `(tables, commit) => cache.invalidateOnCommit(tables, commit)`.
   *
   * @throws CacheError `CACHE_OPTION_INVALID` (field `tables` or `commit`) for arguments that
   * are not what `afterCommit` is given.
   *
   * @example
   * ```ts
   * const database = createDatabase<DB>(parseConfig(), { afterCommit: cache.invalidateOnCommit })
   * ```
   */
  readonly invalidateOnCommit: AfterCommit
  /**
   * Reads from the catalog which tables a write to a table also changes (children of foreign
   * keys with `CASCADE` / `SET NULL` / `SET DEFAULT` actions, views and materialized views over
   * it, a partition's parent and a parent's partitions; for a view, the tables it reads,
   * which a write through it changes), so that `invalidateOnCommit` invalidates them too, and the search path `db`'s
   * connections start with, so that a table has one {@link tableTag} however a query or a write
   * names it (`users` under `search_path = app, public` is `app.users`). Call it at start-up,
   * and again after migrations (what it read replaces what an earlier call read). Triggers are
   * not followed: declare their effects with the `dependencies` option.
   *
   * @example
   * ```ts
   * await cache.learnDependencies(database.primary)
   * ```
   */
  learnDependencies(db: { readonly getExecutor: unknown }): Promise<void>
  /**
   * The tag this cache's own entries and write-path invalidations use for a table: like the
   * exported {@link tableTag}, but an unqualified name is resolved on the search path
   * {@link learnDependencies} read (`users` under `search_path = app, public` is
   * `table:app.users` when `app.users` exists), so a tag given by hand names the same table.
   *
   * @example
   * ```ts
   * await sql`update users set name = ${name} where id = ${id}`.execute(db) // unseen by Sluice
   * await cache.invalidateTags([cache.tableTag('users')])
   * ```
   */
  tableTag(table: string): string
  /** The circuit breaker's state for the shared store. */
  readonly storeState: 'closed' | 'open' | 'half-open'
  /**
   * A start-up check: resolves once the shared store answers and this instance hears other
   * instances' invalidations. Rejects with `CacheError` `CACHE_STORE_AUTH_FAILED` when Redis
   * refuses the credentials, or `CACHE_STORE_UNAVAILABLE` when it does not answer within
   * `timeoutMs` (default 5 s); the message names the host and the cause, never a password.
   * The cache works without it: calls just miss meanwhile.
   *
   * @throws CacheError `CACHE_OPTION_INVALID` (field `timeoutMs`) for a bad duration.
   * @example
   * ```ts
   * await cache.ready({ timeoutMs: '10s' })
   * ```
   */
  ready(options?: { timeoutMs?: Duration }): Promise<void>
  /** Reachability and latency of the shared store, breaker state, invalidations not yet sent. */
  health(): Promise<CacheHealth>
  /**
   * Sends invalidations Redis has not received yet (trying for `closeTimeoutMs`), clears L1
   * and closes the Redis client it created from a URL. Afterwards every call rejects with
   * `CACHE_CLOSED`, and loads waiting for another process's value stop.
   */
  close(): Promise<void>
}
