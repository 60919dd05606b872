import { withDeadline } from './deadline.js'

/**
 * A `close({ timeoutMs })` for something that closes once. The first call starts
 * `graceful(timeoutMs)` (drain, then end); every call, the first and each one made while it
 * runs, waits at most its own `timeoutMs`, after which `cutOff` ends what still runs. A close
 * with a short budget must not wait for an earlier one with a longer budget: Kysely's
 * `db.destroy()`, a framework's shutdown hook or a first signal handler closes with the default
 * 10 s, and a second caller's `close({ timeoutMs: 300 })` holds all the same.
 *
 * @internal Plumbing for Sluice's packages, not part of the public API.
 * @example
 * ```ts
 * const close = closeOnce(
 *   (timeoutMs) => withDeadline(pool.end(), timeoutMs, () => undefined),
 *   () => void pool.end(),
 * )
 * await close(2000)
 * ```
 */
export function closeOnce(
  graceful: (timeoutMs: number) => Promise<void>,
  cutOff: () => void,
): (timeoutMs: number) => Promise<void> {
  let closing: Promise<void> | undefined
  return (timeoutMs) => {
    closing ??= withDeadline(graceful(timeoutMs), timeoutMs, cutOff)
    return withDeadline(closing, timeoutMs, cutOff)
  }
}
