import diagnostics from 'node:diagnostics_channel'
import { guardHook } from '@sluice/core/internal'

/**
 * Subscribes a hook object (an adapter of this package, or your own) to Sluice's
 * `node:diagnostics_channel` channels, given as the packages export them (`coreChannels`,
 * `routerChannels`, `cacheChannels`, `partitionChannels`): it then sees the events of every
 * database, router, cache and maintenance run of the process, without an `instrumentation`
 * option on each. A hook that throws is reported once, as with the option. Returns the
 * function that unsubscribes it.
 *
 * @example
 * ```ts
 * import { coreChannels } from '@sluice/core'
 * import { routerChannels } from '@sluice/router'
 * import { prometheusInstrumentation } from '@sluice/observability/prometheus'
 *
 * const unsubscribe = subscribeChannels(prometheusInstrumentation(), coreChannels, routerChannels)
 * ```
 */
export function subscribeChannels<H extends object>(
  hooks: H,
  ...channels: ReadonlyArray<Partial<Readonly<Record<keyof H & string, string>>>>
): () => void {
  const subscriptions: Array<[string, (message: unknown) => void]> = []
  for (const names of channels) {
    for (const [hook, channel] of Object.entries(names) as Array<[keyof H & string, string]>) {
      const method = hooks[hook]
      if (typeof method !== 'function') continue
      const listener = guardHook(hook, method as (event: unknown) => unknown, hooks)
      diagnostics.subscribe(channel, listener)
      subscriptions.push([channel, listener])
    }
  }
  return () => {
    for (const [channel, listener] of subscriptions) diagnostics.unsubscribe(channel, listener)
  }
}
