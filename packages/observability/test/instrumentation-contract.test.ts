import { instrumentationContract, type SluiceHooks } from '@sluice/testing/instrumentation'
import { metricValue, recordSpans } from '@sluice/testing/observability'
import { Registry } from 'prom-client'
import { afterAll, expect } from 'vitest'
import { otelInstrumentation } from '../src/otel/index.js'
import { prometheusInstrumentation } from '../src/prometheus/index.js'
import { everyEvent } from './workloads/every-event.js'

const recorder = recordSpans()
afterAll(() => recorder.close())

instrumentationContract('Prometheus adapter', everyEvent, () => {
  const registry = new Registry()
  return {
    hooks: prometheusInstrumentation({ registry }),
    check: async () => {
      const count = (name: string) => metricValue(registry, name)
      expect(await count('db_client_operation_duration_seconds_count')).toBeGreaterThan(0)
      expect(await count('sluice_router_routes_total')).toBeGreaterThan(0)
      expect(await count('sluice_cache_events_total')).toBeGreaterThan(0)
      expect(await count('sluice_partition_maintenance_runs_total')).toBeGreaterThan(0)
    },
  }
})

instrumentationContract('OpenTelemetry adapter', everyEvent, () => ({
  hooks: otelInstrumentation({ tracer: recorder.tracer }),
  check: () => {
    const inserts = recorder.spans().filter((span) => span.name === 'INSERT')
    expect(inserts.map((span) => span.attributes['db.response.status_code'])).toContain('23505')
  },
}))

instrumentationContract('a hook object written by a user', everyEvent, () => {
  const seen = new Map<string, number>()
  const count = (hook: string) => () => {
    seen.set(hook, (seen.get(hook) ?? 0) + 1)
  }
  const hooks: Required<SluiceHooks> = {
    onQueryStart: count('onQueryStart'),
    onQueryEnd: count('onQueryEnd'),
    onPoolEvent: count('onPoolEvent'),
    onRoute: count('onRoute'),
    onReplicaStatus: count('onReplicaStatus'),
    onReplicaCheck: count('onReplicaCheck'),
    onCache: count('onCache'),
    onMaintenance: count('onMaintenance'),
  }
  return {
    hooks,
    check: async () => {
      const recorded = await everyEvent()
      const expected = Object.entries(recorded).map(([hook, events]) => [hook, events.length])
      expect([...seen].sort()).toEqual(expected.sort())
    },
  }
})
