/** Context fields attached to a {@link SluiceError}; never holds a password. */
export type ErrorContext = Readonly<Record<string, string | number | boolean | undefined>>

/** Options shared by every {@link SluiceError} subclass. */
export interface SluiceErrorOptions {
  /** The underlying error, e.g. pg's `DatabaseError` or a socket error. */
  readonly cause?: unknown
  /** Machine-readable details such as the target label. */
  readonly context?: ErrorContext
}

/**
 * Base class of every error Sluice throws. `code` is stable across releases: match on it,
 * not on the message.
 *
 * @example
 * ```ts
 * try {
 *   await database.db.selectFrom('users').selectAll().execute()
 * } catch (error) {
 *   if (error instanceof SluiceError && error.code === 'POOL_TIMEOUT') {
 *     // shed load
 *   }
 * }
 * ```
 */
export class SluiceError extends Error {
  /** Stable identifier of the failure, e.g. `CONFIG_INVALID`. */
  readonly code: string
  /** Machine-readable details; never holds a password. */
  readonly context: ErrorContext

  constructor(code: string, message: string, options: SluiceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.context = Object.freeze({ ...options.context })
  }
}
