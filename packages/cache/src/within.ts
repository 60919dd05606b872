import { withDeadline } from '@sluice/core/internal'

/**
 * `promise`, or a rejection once `ms` have passed: with `timeoutError()`, or an `Error` saying
 * `did not answer within <ms> ms`. Core's `withDeadline` keeps the time: an answer that came
 * in time is read before the deadline fires, even after a long turn of a busy event loop.
 *
 * @example
 * ```ts
 * const value = await within(redis.get(key), 500)
 * ```
 */
export function within<T>(
  promise: Promise<T>,
  ms: number,
  timeoutError: () => Error = () => new Error(`did not answer within ${Math.round(ms)} ms`),
): Promise<T> {
  return withDeadline(promise, ms, () => {
    throw timeoutError()
  })
}
