import { describeError } from '../health.js'

// By the hook function itself: the same instrumentation given to many databases, routers and
// caches is reported once, not once per instance.
const reported = new WeakSet<object>()

/**
 * Calls `hook` (as a method of `owner`, if given) so that it can never break the caller: an exception it throws (or a promise it
 * returns that rejects) is reported once per hook function as a process warning
 * (`SLUICE_HOOK_ERROR`, see `process.on('warning')`), and the hook keeps being called.
 *
 * @example
 * ```ts
 * const safe = guardHook('onQueryEnd', (event: unknown) => JSON.stringify(event))
 * safe({ kind: 'example' }) // never throws
 * ```
 */
export function guardHook<E>(
  name: string,
  hook: (event: E) => unknown,
  owner?: object,
): (event: E) => void {
  const report = (error: unknown) => reportHookError(name, hook, error)
  return (event) => {
    try {
      const result = hook.call(owner, event)
      if (isThenable(result)) result.then(undefined, report)
    } catch (error) {
      report(error)
    }
  }
}

function reportHookError(name: string, hook: object, error: unknown): void {
  if (reported.has(hook)) return
  reported.add(hook)
  const { code, message } = describeError(error)
  const kind = code !== 'UNKNOWN' ? code : error instanceof Error ? error.name : typeof error
  process.emitWarning(
    `instrumentation hook ${name} threw ${kind}: ${message} (ignored; later errors of this hook are not reported)`,
    { code: 'SLUICE_HOOK_ERROR', detail: `hook: ${name}` },
  )
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function'
}
