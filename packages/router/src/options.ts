import type { AfterCommit } from '@sluice/core'
import {
  DEFAULT_STREAM_IDLE_TIMEOUT_MS,
  durationOption,
  hookChannels,
  parseOptions,
  TIMER_DURATION,
} from '@sluice/core/internal'
import type { KyselyConfig, KyselyPlugin } from 'kysely'
import { z } from 'zod'
import {
  type RouterEvents,
  type RouterHooks,
  type RouterInstrumentation,
  routerChannels,
} from './route-events.js'
import { leastInFlight, type ReplicaStrategy, roundRobin } from './strategies.js'

/**
 * Options of `routedDialect`, and so of `createRoutedDatabase`: the router's own. Durations
 * accept milliseconds or a unit (`'2s'`).
 *
 * @example
 * ```ts
 * routedDialect(parseConfig(), {
 *   maxLagMs: 2000,
 *   fallback: 'error',
 *   writeFunctions: ['refresh_feed'],
 *   instrumentation: { onRoute: (event) => console.log(event.target, event.reason) },
 * })
 * ```
 */
export interface RoutedDialectOptions {
  /** Hooks for query, pool, routing and replica-state events. */
  readonly instrumentation?: RouterInstrumentation | readonly RouterInstrumentation[]
  /** `round-robin` (default), `least-in-flight`, or any strategy such as `weighted({...})`. */
  readonly strategy?: 'round-robin' | 'least-in-flight' | ReplicaStrategy
  /** How often each replica's lag and health are checked. Default 1000 ms. */
  readonly lagCheckIntervalMs?: number | string
  /** A replica further behind than this gets no reads. Default 5000 ms. */
  readonly maxLagMs?: number | string
  /** A replica more WAL bytes behind than this gets no reads. Default 16 MiB. */
  readonly maxLagBytes?: number
  /** Reads with no usable replica go to the `primary` (default) or fail with `NO_REPLICA_AVAILABLE` (`error`). */
  readonly fallback?: 'primary' | 'error'
  /** Functions that write, on top of nextval, setval, the advisory locks and the like. */
  readonly writeFunctions?: readonly string[]
  /** Where `READ ONLY` transactions run: `primary` (default) or a `replica`. */
  readonly readOnlyTransactions?: 'primary' | 'replica'
  /**
   * Time allowed for one lag check or `health()` check of a server, connection included; a
   * server that does not answer in time counts as down. Default 2000 ms.
   */
  readonly probeTimeoutMs?: number | string
  /** First wait before re-checking a replica that is down; doubles up to `maxRetryDelayMs`. Default 500 ms. */
  readonly retryDelayMs?: number | string
  /** Default 30 s. */
  readonly maxRetryDelayMs?: number | string
  /**
   * How long a `.stream()` waits for its consumer's next `next()`: then it is closed, its
   * connection destroyed and its replica's in-flight count released, and the next `next()`
   * rejects with `StreamClosedError` (`STREAM_IDLE_TIMEOUT`). Default 60 s.
   */
  readonly streamIdleTimeoutMs?: number | string
  /**
   * Called with the tables each committed write touched, before the commit returns, e.g.
   * `cache.invalidateOnCommit` from `@sluice/cache`. Off by default.
   */
  readonly afterCommit?: AfterCommit
}

/**
 * Options of `createRoutedDatabase`: the router's ({@link RoutedDialectOptions}) and Kysely's
 * own `plugins` and `log`, given to both of its Kysely instances.
 *
 * @example
 * ```ts
 * import { CamelCasePlugin } from 'kysely'
 *
 * createRoutedDatabase<DB>(parseConfig(), {
 *   maxLagMs: '2s',
 *   plugins: [new CamelCasePlugin()],
 *   log: ['error'],
 * })
 * ```
 */
export interface RouterOptions extends RoutedDialectOptions {
  /** Kysely plugins, e.g. `CamelCasePlugin`; passed to both Kysely instances. */
  readonly plugins?: readonly KyselyPlugin[]
  /**
   * Kysely's own `log` option (`['query', 'error']` or a function), passed through. It sees
   * every statement Kysely sends, `BEGIN`, `COMMIT`, `ROLLBACK` and savepoints included, on
   * whichever server runs it; not the router's own lag and position queries.
   */
  readonly log?: KyselyConfig['log']
}

/** {@link RoutedDialectOptions} with every default filled in. */
export interface ResolvedRouterOptions {
  /** The hooks given, for core's query and pool events. */
  readonly instrumentation: readonly RouterInstrumentation[]
  readonly events: RouterEvents
  readonly strategy: ReplicaStrategy
  readonly lagCheckIntervalMs: number
  readonly maxLagMs: number
  readonly maxLagBytes: number
  readonly fallback: 'primary' | 'error'
  readonly writeFunctions: readonly string[]
  readonly readOnlyTransactions: 'primary' | 'replica'
  readonly probeTimeoutMs: number
  readonly retryDelayMs: number
  readonly maxRetryDelayMs: number
  readonly streamIdleTimeoutMs: number
  readonly afterCommit: AfterCommit | undefined
}

const duration = (fallback: number) => durationOption(TIMER_DURATION).default(fallback)

const strategy = z.union([
  z.enum(['round-robin', 'least-in-flight'], {
    error: "strategy must be 'round-robin', 'least-in-flight' or a ReplicaStrategy",
  }),
  z.custom<ReplicaStrategy>(
    (value) =>
      typeof value === 'object' &&
      value !== null &&
      typeof (value as ReplicaStrategy).pick === 'function',
    { error: 'a strategy object needs a pick(candidates) function' },
  ),
])

const schema = z.strictObject({
  strategy: strategy.default('round-robin'),
  lagCheckIntervalMs: duration(1000),
  maxLagMs: duration(5000),
  maxLagBytes: z
    .number()
    .int()
    .positive({ error: 'maxLagBytes must be a positive whole number' })
    .default(16 * 1024 * 1024),
  fallback: z.enum(['primary', 'error']).default('primary'),
  writeFunctions: z
    .array(
      z.string({ error: 'must be a function name' }).superRefine((name, ctx) => {
        const problem = name.includes('"')
          ? 'give the name without quotes (names match in any case)'
          : name.includes('.')
            ? 'give the name without a schema (a name matches in every schema)'
            : /^[A-Za-z_][\w$]*$/.test(name)
              ? undefined
              : 'must be a function name'
        if (problem) ctx.addIssue({ code: 'custom', message: problem })
      }),
    )
    .default([]),
  readOnlyTransactions: z.enum(['primary', 'replica']).default('primary'),
  probeTimeoutMs: duration(2000),
  retryDelayMs: duration(500),
  maxRetryDelayMs: duration(30_000),
  streamIdleTimeoutMs: duration(DEFAULT_STREAM_IDLE_TIMEOUT_MS),
})

/**
 * Validates router options and fills in defaults.
 *
 * @throws ConfigError (`CONFIG_INVALID`) naming every bad option.
 * @example
 * ```ts
 * resolveRouterOptions({ maxLagMs: '2s' }, ['replica-1']).maxLagMs // 2000
 * ```
 */
export function resolveRouterOptions(
  options: RoutedDialectOptions,
  replicaLabels: readonly string[],
): ResolvedRouterOptions {
  const { instrumentation, afterCommit, ...rest } = options
  const parsed = parseOptions(schema, rest)
  const events = hookChannels<RouterHooks>(instrumentation, routerChannels)
  const hooked: readonly RouterInstrumentation[] = [instrumentation ?? []].flat()
  const chosen =
    parsed.strategy === 'round-robin'
      ? roundRobin()
      : parsed.strategy === 'least-in-flight'
        ? leastInFlight()
        : parsed.strategy
  chosen.init?.(replicaLabels)
  return Object.freeze({
    ...parsed,
    strategy: chosen,
    instrumentation: hooked,
    events,
    afterCommit,
  })
}
