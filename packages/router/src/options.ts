import type { AfterCommit } from '@sluice/core'
import {
  DEFAULT_STREAM_IDLE_TIMEOUT_MS,
  hookChannels,
  MAX_TIMER_MS,
  parseDuration,
  parseOptions,
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
 * Options of `createRoutedDatabase`. Durations accept milliseconds or a unit (`'2s'`).
 *
 * @example
 * ```ts
 * createRoutedDatabase<DB>(parseConfig(), {
 *   maxLagMs: 2000,
 *   fallback: 'error',
 *   writeFunctions: ['refresh_feed'],
 *   instrumentation: { onRoute: (event) => console.log(event.target, event.reason) },
 * })
 * ```
 */
export interface RouterOptions {
  /** Hooks for query, pool, routing and replica-state events. */
  readonly instrumentation?: RouterInstrumentation | readonly RouterInstrumentation[]
  /** Kysely plugins, e.g. `CamelCasePlugin`; passed to both Kysely instances. */
  readonly plugins?: readonly KyselyPlugin[]
  /** Kysely's own `log` option (`['query', 'error']` or a function), passed through. */
  readonly log?: KyselyConfig['log']
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

/** {@link RouterOptions} with every default filled in. */
export interface ResolvedRouterOptions {
  /** The hooks given, for core's query and pool events. */
  readonly instrumentation: readonly RouterInstrumentation[]
  readonly events: RouterEvents
  readonly plugins: readonly KyselyPlugin[]
  readonly log: KyselyConfig['log']
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

const duration = (what: string, fallback: number) =>
  z
    .union([z.number(), z.string()])
    .optional()
    .transform((value, ctx) => {
      const ms = value === undefined ? fallback : parseDuration(value)
      if (ms === undefined || ms <= 0) {
        ctx.addIssue({ code: 'custom', message: `${what} must be a positive duration` })
        return z.NEVER
      }
      // These become timers, and a longer timer fires at once: every check would time out.
      if (ms > MAX_TIMER_MS) {
        ctx.addIssue({
          code: 'custom',
          message: `${what} must be at most ${MAX_TIMER_MS} ms (about 24.8 days)`,
        })
        return z.NEVER
      }
      return ms
    })

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
  lagCheckIntervalMs: duration('lagCheckIntervalMs', 1000),
  maxLagMs: duration('maxLagMs', 5000),
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
  probeTimeoutMs: duration('probeTimeoutMs', 2000),
  retryDelayMs: duration('retryDelayMs', 500),
  maxRetryDelayMs: duration('maxRetryDelayMs', 30_000),
  streamIdleTimeoutMs: duration('streamIdleTimeoutMs', DEFAULT_STREAM_IDLE_TIMEOUT_MS),
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
  options: RouterOptions,
  replicaLabels: readonly string[],
): ResolvedRouterOptions {
  const { instrumentation, plugins, afterCommit, log, ...rest } = options
  const parsed = parseOptions(schema, rest)
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
    events: hookChannels<RouterHooks>(hooked, routerChannels),
    plugins: [...(plugins ?? [])],
    log,
    afterCommit,
  })
}
