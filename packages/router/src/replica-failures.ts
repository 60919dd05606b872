import { ConnectionError, isDatabaseError, PoolTimeoutError } from '@sluice/core'

/**
 * What a failed statement says about where it ran.
 * - `replica`: that server could not serve it, another could (it is unreachable, frozen, its
 *   pool is jammed, it cancelled the read to replay WAL): retry elsewhere.
 * - `standby-write`: a standby refused it because it writes; nothing ran: retry on the primary.
 * - `undefined`: the statement itself failed; any server would say the same.
 */
export type FailureKind = 'replica' | 'standby-write' | undefined

const RECOVERY_CONFLICT = /conflict with recovery/i
const IN_RECOVERY = /recovery is in progress|during recovery/i
const TOO_MANY_CONNECTIONS = '53300'

/**
 * Classifies a failure on a standby. Recovery conflicts (40001 or 40P01 "conflict with
 * recovery") and connection-level failures are replica-specific; 25006 (read-only
 * transaction), 55000 "recovery is in progress" and XX000 "cannot assign ... during recovery"
 * are write rejections.
 *
 * @example
 * ```ts
 * const tryAnotherServer = failureKind(error) === 'replica'
 * ```
 */
export function failureKind(error: unknown): FailureKind {
  if (error instanceof ConnectionError || error instanceof PoolTimeoutError) return 'replica'
  if (!isDatabaseError(error)) return undefined
  switch (error.code) {
    case '25006':
      return 'standby-write'
    case '55000':
    case 'XX000':
      return IN_RECOVERY.test(error.message) ? 'standby-write' : undefined
    case '40001':
    case '40P01':
      return RECOVERY_CONFLICT.test(error.message) ? 'replica' : undefined
    case TOO_MANY_CONNECTIONS:
      return 'replica'
    default:
      return RECOVERY_CONFLICT.test(error.message) ? 'replica' : undefined
  }
}
