import { otelInstrumentation } from '@sluice/observability/otel'
import { prometheusInstrumentation } from '@sluice/observability/prometheus'
import { waitFor } from '@sluice/testing'
import {
  metricValue,
  recordChannel,
  recordHookWarnings,
  recordSpans,
} from '@sluice/testing/observability'
import { Registry } from 'prom-client'
import { expect, test } from 'vitest'
import { type CacheEvent, cacheChannels } from '../src/index.js'
import { freshNamespace, redisClient, testCache } from './helpers.js'

/**
 * What these tests check is which events a cache emits, not how fast it is: on a loaded
 * machine Redis may take longer than the default 500 ms to answer (a store call that times out
 * is an `error` event and a miss, and stores nothing), and the bus's first ping longer than the
 * lease (L1 does not serve until it answers). A cache of {@link testCache} that waits for both.
 */
async function steadyCache(...[options, profile]: Parameters<typeof testCache>) {
  const cache = testCache({ storeTimeoutMs: '10s', busLeaseMs: '10s', ...options }, profile)
  await cache.ready({ timeoutMs: '30s' })
  return cache
}

test('Prometheus counts hits by tier, loads, and invalidations, as Redis holds the entry', async () => {
  const namespace = freshNamespace()
  const [withL1, sharedOnly] = [new Registry(), new Registry()]
  const cache = await steadyCache({
    namespace,
    instrumentation: prometheusInstrumentation({ registry: withL1 }),
  })
  const other = await steadyCache({
    namespace,
    l1: false,
    instrumentation: prometheusInstrumentation({ registry: sharedOnly }),
  })
  const events = (registry: Registry, labels: Record<string, string>) =>
    metricValue(registry, 'sluice_cache_events_total', labels)

  expect(await cache.getOrLoad('profile:1', async () => ({ name: 'Ada' }))).toEqual({ name: 'Ada' })
  expect(await redisClient().keys(`${namespace}:*profile:1*`)).not.toEqual([])
  expect(await events(withL1, { kind: 'miss' })).toBe(1)
  expect(await events(withL1, { kind: 'load', reason: 'stored' })).toBe(1)
  expect(await metricValue(withL1, 'sluice_cache_duration_seconds_count', { kind: 'load' })).toBe(1)

  await cache.getOrLoad('profile:1', async () => ({ name: 'not loaded' }))
  expect(await events(withL1, { kind: 'hit', tier: 'l1' })).toBe(1)
  expect(await other.getOrLoad('profile:1', async () => ({ name: 'not loaded' }))).toEqual({
    name: 'Ada',
  })
  expect(await events(sharedOnly, { kind: 'hit', tier: 'l2' })).toBe(1)
  expect(await events(sharedOnly, { kind: 'load' })).toBe(0)

  await cache.delete('profile:1')
  expect(await events(withL1, { kind: 'invalidation' })).toBe(1)
  const reloaded = await other.getOrLoad('profile:1', async () => ({ name: 'Ada L.' }))
  expect(reloaded).toEqual({ name: 'Ada L.' })
  expect(await events(sharedOnly, { kind: 'load', reason: 'stored' })).toBe(1)
})

test('OpenTelemetry: cache events are added to the active span', async () => {
  const recorder = recordSpans()
  try {
    // The span's own events are checked: no second OpenTelemetry adapter from the profile.
    const cache = await steadyCache(
      { instrumentation: otelInstrumentation({ tracer: recorder.tracer }) },
      { otel: false },
    )
    await recorder.tracer.startActiveSpan('GET /profile', async (span) => {
      await cache.getOrLoad('profile:2', async () => 'Grace')
      await cache.getOrLoad('profile:2', async () => 'not loaded')
      span.end()
    })
    const [request] = recorder.spans()
    expect(request?.events.map((event) => [event.name, event.attributes])).toEqual([
      ['sluice.cache.miss', {}],
      ['sluice.cache.load', { 'sluice.cache.duration_ms': expect.any(Number) }],
      ['sluice.cache.hit', { 'sluice.cache.tier': 'l1' }],
    ])
  } finally {
    await recorder.close()
  }
})

test('a cache hook that throws or rejects never fails a cache call, and is reported once', async () => {
  const warnings = recordHookWarnings()
  const namespace = freshNamespace()
  const sync = () => {
    throw new Error('broken cache hook')
  }
  const cache = await steadyCache({ namespace, instrumentation: [{ onCache: sync }] })
  const other = await steadyCache({
    namespace,
    l1: false,
    instrumentation: { onCache: async () => sync() },
  })
  try {
    expect(await cache.getOrLoad('k', async () => 'v')).toBe('v')
    expect(await cache.getOrLoad('k', async () => 'not loaded')).toBe('v')
    expect(await other.getOrLoad('k', async () => 'not loaded')).toBe('v')
    expect(await redisClient().keys(`${namespace}:*k*`)).not.toEqual([])
    await cache.delete('k')
    expect(await other.getOrLoad('k', async () => 'reloaded')).toBe('reloaded')
    await waitFor(() => warnings.items.length === 2, { what: 'one warning per broken hook' })
  } finally {
    warnings.stop()
  }
  expect(warnings.items.every((message) => message.includes('onCache threw Error'))).toBe(true)
})

test('cache events are published on the cache channel, with no hook given', async () => {
  const events = recordChannel<CacheEvent>(cacheChannels.onCache)
  const namespace = freshNamespace()
  const cache = await steadyCache({ namespace, instrumentation: [] })
  try {
    await cache.getOrLoad('k', async () => 'v')
    await cache.getOrLoad('k', async () => 'not loaded')
  } finally {
    events.stop()
  }
  expect(events.items.filter((event) => 'key' in event && event.key === 'k')).toEqual([
    expect.objectContaining({ kind: 'miss' }),
    expect.objectContaining({ kind: 'load', stored: true }),
    expect.objectContaining({ kind: 'hit', tier: 'l1' }),
  ])
})
