/** Context fields attached to a {@link SluiceError}; never holds a password. */
export type ErrorContext = Readonly<Record<string, string | number | boolean | undefined>>

/** Options shared by every {@link SluiceError} subclass. */
export interface SluiceErrorOptions {
  /** The underlying error, e.g. pg's `DatabaseError` or a socket error. */
  readonly cause?: unknown
  /** Machine-readable details such as the target label. */
  readonly context?: ErrorContext
}

// Shared by every copy of @sluice/core in a process (Symbol.for): the names of the classes an
// error was made from, most derived first, so `instanceof` works across copies.
const KINDS = Symbol.for('sluice.error.kinds')

/**
 * Base class of every error Sluice throws. `code` is stable across releases: match on it,
 * not on the message. `instanceof` (on this class and every subclass) also recognises errors
 * made by another copy of `@sluice/core` in the same process (two versions installed side by
 * side): it checks a `Symbol.for` brand and the class name, not the prototype.
 * A package's own error class only narrows `Code` to its list of codes
 * (`class CacheError extends SluiceError<CacheErrorCode> {}`); details go in `context`.
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
export class SluiceError<Code extends string = string> extends Error {
  /** Stable identifier of the failure, e.g. `CONFIG_INVALID`. */
  readonly code: Code
  /** Machine-readable details; never holds a password. */
  readonly context: ErrorContext

  constructor(code: Code, message: string, options: SluiceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.context = Object.freeze({ ...options.context })
    const kinds: string[] = []
    for (let kind: unknown = new.target; kind !== Error; kind = Object.getPrototypeOf(kind)) {
      kinds.push((kind as { name: string }).name)
    }
    Object.defineProperty(this, KINDS, { value: Object.freeze(kinds), enumerable: false })
  }

  /** True for an error made from this class (or a subclass) by any copy of the package. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null) return false
    const kinds = (value as { [KINDS]?: unknown })[KINDS]
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class on the right of instanceof, a subclass too
    return Array.isArray(kinds) && kinds.includes(this.name)
  }
}
