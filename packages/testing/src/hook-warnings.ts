import diagnostics from 'node:diagnostics_channel'

/** What {@link recordHookWarnings} or {@link recordChannel} collected, until `stop()`. */
export interface Recording<T> {
  readonly items: readonly T[]
  stop(): void
}

/**
 * Records the process warnings Sluice emits for instrumentation hooks that threw
 * (`SLUICE_HOOK_ERROR`): one per broken hook function, however often it throws. Warnings are
 * emitted on the next tick: wait for them (`waitFor`), never sleep.
 *
 * @example
 * ```ts
 * const warnings = recordHookWarnings()
 * // ... run queries with a hook that throws ...
 * await waitFor(() => warnings.items.length === 1)
 * warnings.stop()
 * ```
 */
export function recordHookWarnings(): Recording<string> {
  const items: string[] = []
  const listener = (warning: Error & { code?: string }) => {
    if (warning.code === 'SLUICE_HOOK_ERROR') items.push(warning.message)
  }
  process.on('warning', listener)
  return { items, stop: () => process.off('warning', listener) }
}

/**
 * Records every message published on a `node:diagnostics_channel` channel (e.g.
 * `coreChannels.onQueryEnd` of `@sluice/core`), as a tracing tool subscribed to it sees them.
 *
 * @example
 * ```ts
 * const ends = recordChannel<QueryEndEvent>(coreChannels.onQueryEnd)
 * // ... run queries ...
 * ends.stop()
 * console.log(ends.items.map((event) => event.target))
 * ```
 */
export function recordChannel<T>(name: string): Recording<T> {
  const items: T[] = []
  const listener = (message: unknown) => items.push(message as T)
  diagnostics.subscribe(name, listener)
  return { items, stop: () => diagnostics.unsubscribe(name, listener) }
}
