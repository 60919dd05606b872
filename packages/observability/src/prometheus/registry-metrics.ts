import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

type Kind = typeof Counter | typeof Gauge | typeof Histogram

/** What a metric needs: its name, help, label names and, for histograms, buckets. */
export interface MetricSpec {
  readonly name: string
  readonly help: string
  readonly labelNames: readonly string[]
  readonly buckets?: readonly number[]
}

/**
 * The registry's metric of that name, or a new one registered there: several databases, routers
 * and caches of one process can each take an instrumentation on the same registry. A name taken
 * by a metric of another type or labels is a programming error and throws, as prom-client does.
 */
function metric<M extends Kind>(kind: M, registry: Registry, spec: MetricSpec): InstanceType<M> {
  const existing = registry.getSingleMetric(spec.name)
  if (existing) {
    if (!(existing instanceof kind)) {
      throw new TypeError(`metric ${spec.name} is already registered with another type`)
    }
    return existing as InstanceType<M>
  }
  const { buckets, ...rest } = spec
  const config = {
    ...rest,
    labelNames: [...spec.labelNames],
    registers: [registry],
    ...(buckets && { buckets: [...buckets] }),
  }
  return new (kind as new (c: typeof config) => InstanceType<M>)(config)
}

/** @see metric */
export const counter = (registry: Registry, spec: MetricSpec) => metric(Counter, registry, spec)
/** @see metric */
export const gauge = (registry: Registry, spec: MetricSpec) => metric(Gauge, registry, spec)
/** @see metric */
export const histogram = (registry: Registry, spec: MetricSpec) => metric(Histogram, registry, spec)
