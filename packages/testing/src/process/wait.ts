import { setTimeout as delay } from 'node:timers/promises'
import { TestServerError } from '../errors.js'

/** Options of {@link waitFor}. */
export interface WaitOptions {
  /** Give up after this long. Default 30 s. */
  readonly timeoutMs?: number
  /** Poll this often. Default 25 ms. */
  readonly intervalMs?: number
  /** Names the condition in the timeout error. */
  readonly what?: string
}

/**
 * Polls `condition` until it returns a value other than `undefined`/`false`, and returns it.
 * Errors thrown by `condition` count as "not yet". Use it instead of fixed sleeps.
 *
 * @example
 * ```ts
 * await waitFor(async () => (await replica.isInRecovery()) === false, { what: 'promotion' })
 * ```
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  { timeoutMs = 30_000, intervalMs = 25, what = 'condition' }: WaitOptions = {},
): Promise<Exclude<T, false | undefined>> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  while (true) {
    try {
      const value = await condition()
      if (value !== undefined && value !== false) return value as Exclude<T, false | undefined>
    } catch (error) {
      lastError = error
    }
    if (Date.now() >= deadline) {
      throw new TestServerError(
        'WAIT_TIMEOUT',
        `Timed out after ${timeoutMs} ms waiting for ${what}`,
        {
          cause: lastError,
        },
      )
    }
    await delay(intervalMs)
  }
}
