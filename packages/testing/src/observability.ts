import { context, type Tracer } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import type { Registry } from 'prom-client'

/**
 * The sum of a metric's samples whose labels include `labels`. `name` is a sample name:
 * `..._total` for a counter, `..._count`, `..._sum` or `..._bucket` for a histogram.
 *
 * @example
 * ```ts
 * const reads = await metricValue(registry, 'sluice_router_routes_total', { reason: 'read' })
 * ```
 */
export async function metricValue(
  registry: Registry,
  name: string,
  labels: Readonly<Record<string, string | number>> = {},
): Promise<number> {
  const metric =
    registry.getSingleMetric(name) ??
    registry.getSingleMetric(name.replace(/_(count|sum|bucket)$/, ''))
  if (!metric) return 0
  const data = await metric.get()
  return data.values
    .filter((sample) => ((sample as { metricName?: string }).metricName ?? data.name) === name)
    .filter((sample) => Object.entries(labels).every(([k, v]) => sample.labels[k] === v))
    .reduce((sum, sample) => sum + sample.value, 0)
}

/** Spans recorded in memory by {@link recordSpans}. */
export interface SpanRecorder {
  /** Give this to the code under test. */
  readonly tracer: Tracer
  /** The spans ended so far, oldest first. */
  spans(): ReadableSpan[]
  /** Stops recording and removes the context manager it installed. */
  close(): Promise<void>
}

/**
 * Records OpenTelemetry spans in memory, with an AsyncLocalStorage context manager installed so
 * that parents carry across `await`. Needs `@opentelemetry/api`,
 * `@opentelemetry/sdk-trace-base` and `@opentelemetry/context-async-hooks`.
 *
 * @example
 * ```ts
 * const recorder = recordSpans()
 * const database = createDatabase<DB>(config, { instrumentation: otelInstrumentation({ tracer: recorder.tracer }) })
 * await database.db.selectFrom('users').selectAll().execute()
 * expect(recorder.spans().map((span) => span.name)).toEqual(['SELECT users'])
 * ```
 */
export function recordSpans(): SpanRecorder {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  const manager = new AsyncLocalStorageContextManager().enable()
  context.setGlobalContextManager(manager)
  return {
    tracer: provider.getTracer('@sluice/testing'),
    spans: () => exporter.getFinishedSpans(),
    close: async () => {
      await provider.shutdown()
      context.disable()
    },
  }
}

export { type Recording, recordChannel, recordHookWarnings } from './hook-warnings.js'
