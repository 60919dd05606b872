import type { Instrumentation } from './events.js'

/**
 * Merges several instrumentations into one that calls each in turn, isolating failures: a
 * hook that throws is skipped, never failing the query. Every `on*` method is merged, so
 * extended interfaces (the router's `onRoute`, say) combine too. Returns `undefined` for none,
 * so the zero-cost path stays zero-cost; with a first instrumentation given, the result's type
 * is not `undefined` (it fits an `instrumentation` option under `exactOptionalPropertyTypes`).
 *
 * @example
 * ```ts
 * const hooks = combineInstrumentation(prometheusHooks, tracingHooks)
 * ```
 */
export function combineInstrumentation<I extends Instrumentation = Instrumentation>(
  first: Partial<I>,
  ...rest: ReadonlyArray<Partial<I> | undefined>
): I
export function combineInstrumentation<I extends Instrumentation = Instrumentation>(
  ...hooks: ReadonlyArray<Partial<I> | undefined>
): I | undefined
export function combineInstrumentation<I extends Instrumentation = Instrumentation>(
  ...hooks: ReadonlyArray<Partial<I> | undefined>
): I | undefined {
  const present = hooks.filter((hook): hook is Partial<I> => hook !== undefined)
  if (present.length === 0) return undefined
  const combined: Record<string, (event: unknown) => void> = {}
  const names = new Set(present.flatMap((hook) => hookNames(hook)))
  for (const name of names) {
    const calls = present.flatMap((hook) => {
      const method = (hook as Record<string, unknown>)[name]
      return typeof method === 'function' ? [method.bind(hook) as (event: unknown) => void] : []
    })
    combined[name] = (event) => {
      for (const call of calls) {
        try {
          call(event)
        } catch {
          // A broken hook must never fail a query.
        }
      }
    }
  }
  return combined as unknown as I
}

/** The `on*` methods of an object, own or inherited (class instances keep them on prototypes). */
function hookNames(hook: object): string[] {
  const names: string[] = []
  for (
    let proto: object | null = hook;
    proto && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto)
  ) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (/^on[A-Z]/.test(name)) names.push(name)
    }
  }
  return names
}
