import type { Tracer } from '@opentelemetry/api'
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base'
import { type OtelInstrumentation, otelInstrumentation } from '@sluice/observability/otel'
import {
  type PrometheusInstrumentation,
  prometheusInstrumentation,
} from '@sluice/observability/prometheus'
import { Registry } from 'prom-client'
import { testProfile } from './test-profile.js'

/** Options of {@link profileInstrumentation}. */
export interface ProfileInstrumentationOptions {
  /** Where the Prometheus metrics go. Default: one registry per process, not prom-client's global one. */
  readonly registry?: Registry
  /** Where the spans go. Default: a recording tracer that exports nowhere. */
  readonly tracer?: Tracer
  /**
   * Register the OpenTelemetry adapter. Default `true`; `false` for a test that records the
   * events on its own spans, which a second adapter would add a second time.
   */
  readonly otel?: boolean
}

let registry: Registry | undefined
let tracer: Tracer | undefined

/**
 * In the production test profile (`SLUICE_TEST_PROFILE=production`), the instrumentation
 * production registers: `@sluice/observability`'s Prometheus and OpenTelemetry adapters together, so
 * every hook runs on every query, pool, route, cache and maintenance event of the tests. In
 * the default profile, `undefined` (no instrumentation, as most users run their tests).
 *
 * @example
 * ```ts
 * const database = createDatabase(config, { instrumentation: profileInstrumentation() })
 * ```
 */
export function profileInstrumentation(
  options: ProfileInstrumentationOptions = {},
): ReadonlyArray<PrometheusInstrumentation | OtelInstrumentation> | undefined {
  if (testProfile().name !== 'production') return undefined
  registry ??= new Registry()
  tracer ??= new BasicTracerProvider().getTracer('@sluice/testing/profile')
  const metrics = prometheusInstrumentation({ registry: options.registry ?? registry })
  if (options.otel === false) return [metrics]
  return [metrics, otelInstrumentation({ tracer: options.tracer ?? tracer })]
}

/**
 * Options for a database, router, cache or maintenance run with the profile's
 * instrumentation ({@link profileInstrumentation}) added before the test's own hooks, which
 * keep receiving every event. In the default profile, `options` unchanged.
 *
 * @example
 * ```ts
 * const events: CacheEvent[] = []
 * const cache = createCache(
 *   withProfile({ namespace: 'app', redis: redisUrl, instrumentation: { onCache: (e) => events.push(e) } }),
 * )
 * ```
 */
export function withProfile<O extends { readonly instrumentation?: unknown }>(
  options: O,
  instrumentation: ProfileInstrumentationOptions = {},
): O {
  const profile = profileInstrumentation(instrumentation)
  if (!profile) return options
  const own = options.instrumentation === undefined ? [] : [options.instrumentation].flat()
  return { ...options, instrumentation: [...profile, ...own] }
}
