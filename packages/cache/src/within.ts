/**
 * `promise`, or a rejection once `ms` have passed: with `timeoutError()`, or an `Error` saying
 * `did not answer within <ms> ms`.
 *
 * @example
 * ```ts
 * const value = await within(redis.get(key), 500)
 * ```
 */
export async function within<T>(
  promise: Promise<T>,
  ms: number,
  timeoutError: () => Error = () => new Error(`did not answer within ${Math.round(ms)} ms`),
): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeoutError()), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
