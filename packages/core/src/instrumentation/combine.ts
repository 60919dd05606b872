import type { Instrumentation } from './events.js'

type HookName = keyof Instrumentation

/**
 * Merges several instrumentations into one that calls each in turn, isolating failures: a
 * hook that throws is skipped, never failing the query. Returns `undefined` for none, so the
 * zero-cost path stays zero-cost.
 *
 * @example
 * ```ts
 * const hooks = combineInstrumentation(prometheusHooks, tracingHooks)
 * ```
 */
export function combineInstrumentation(
  ...hooks: ReadonlyArray<Instrumentation | undefined>
): Instrumentation | undefined {
  const present = hooks.filter((hook): hook is Instrumentation => hook !== undefined)
  if (present.length === 0) return undefined
  const combined: Instrumentation = {}
  for (const name of ['onQueryStart', 'onQueryEnd', 'onPoolEvent'] as const satisfies HookName[]) {
    const calls = present.flatMap((hook) => {
      const method = hook[name]
      return method ? [method.bind(hook) as (event: unknown) => void] : []
    })
    if (calls.length === 0) continue
    combined[name] = (event: never) => {
      for (const call of calls) {
        try {
          call(event)
        } catch {
          // A broken hook must never fail a query.
        }
      }
    }
  }
  return combined
}
