/**
 * A short, low-cardinality name for an error: its SQLSTATE, Sluice code, or class name.
 *
 * @example
 * ```ts
 * errorType(new TypeError('x')) // 'TypeError'
 * ```
 */
export function errorType(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const { code, name } = error as { code?: unknown; name?: unknown }
    if (typeof code === 'string' && code.length > 0) return code
    if (typeof name === 'string' && name.length > 0) return name
  }
  return '_OTHER'
}
