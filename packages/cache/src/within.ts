/**
 * `promise`, or a rejection with `did not answer within <ms> ms` once `ms` have passed.
 *
 * @example
 * ```ts
 * const value = await within(redis.get(key), 500)
 * ```
 */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not answer within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
