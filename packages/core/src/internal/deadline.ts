/**
 * The longest wait a Node.js timer can express (2^31 - 1 ms, about 24.8 days): a longer
 * `setTimeout` fires after 1 ms instead. Options that become timers are capped at this.
 *
 * @internal
 * @example
 * ```ts
 * import { MAX_TIMER_MS } from '@sluice/core/internal'
 * const waitMs = Math.min(3_000_000_000, MAX_TIMER_MS) // about 24.8 days, where setTimeout would wait 1 ms
 * ```
 */
export const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * Waits for `work` for at most `timeoutMs` (capped at {@link MAX_TIMER_MS}: a longer
 * `timeoutMs`, `Number.MAX_SAFE_INTEGER` for "as long as it takes" say, waits that long, where
 * a plain timer would expire at once). If it settles in time, its outcome is returned; if
 * not, `expired` is called and its outcome is returned instead: return a fallback value, or
 * throw a typed error (and destroy whatever the work was holding, so it is never reused). An
 * answer already received when the timer fires wins (it is read first). A late rejection of
 * `work` is swallowed; the timer never keeps the process alive.
 *
 * @internal Plumbing for Sluice's packages, not part of the public API.
 * @example
 * ```ts
 * const rows = await withDeadline(pool.query('select 1'), 2000, () => {
 *   throw new ConnectionError('CONNECT_TIMEOUT', 'no answer within 2000 ms')
 * })
 * ```
 */
export function withDeadline<T, F = T>(
  work: Promise<T>,
  timeoutMs: number,
  expired: () => F,
): Promise<T | F> {
  return new Promise<T | F>((resolve, reject) => {
    let settled = false
    const waitMs = Math.min(timeoutMs, MAX_TIMER_MS)
    const expire = () => {
      if (settled) return
      settled = true
      try {
        resolve(expired())
      } catch (error) {
        reject(error)
      }
    }
    // Timers run before the event loop reads its sockets: after a long turn (a loaded
    // machine, a busy process), an answer that came in time would still be waiting unread.
    // Expiring after the next poll (setImmediate) lets it settle `work` first. The immediate
    // stays referenced: an unreferenced one does not wake a loop blocked in its poll, so the
    // expiry would wait for the next unrelated timer or socket event (seconds, in a quiet
    // process).
    const timer = setTimeout(() => setImmediate(expire), waitMs)
    timer.unref?.()
    work.then(
      (value) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        reject(error)
      },
    )
  })
}
