/**
 * A server could not be started or controlled. `code` is stable: `ENGINE_UNAVAILABLE` (no
 * usable binaries for the requested engine), `SERVER_START_FAILED`, `SERVER_COMMAND_FAILED`,
 * `WAIT_TIMEOUT`. The message ends with the tail of the server's log when there is one.
 *
 * @example
 * ```ts
 * try {
 *   await startPostgres({ engine: 'embedded' })
 * } catch (error) {
 *   if (error instanceof TestServerError && error.code === 'ENGINE_UNAVAILABLE') console.warn(error.message)
 * }
 * ```
 */
export class TestServerError extends Error {
  readonly code: string

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'TestServerError'
    this.code = code
  }
}
