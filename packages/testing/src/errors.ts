/**
 * A server could not be started or controlled, or a fault or history was given bad input.
 * `code` is stable: `ENGINE_UNAVAILABLE` (no usable binaries for the requested engine),
 * `SERVER_START_FAILED`, `SERVER_COMMAND_FAILED`, `WAIT_TIMEOUT`, `SERVER_NOT_RUNNING`
 * (`freeze()` on a stopped server), `UPSTREAM_UNREACHABLE` (a fault proxy pointed at a port
 * nothing listens on), `INVALID_LATENCY`, `INVALID_TARGET`, `INVALID_SETTING`,
 * `CONTROL_UNREACHABLE` / `CONTROL_TARGET_GONE` (the process owning a proxy exited, or the
 * proxy was stopped), `OVERLAPPING_OPERATIONS` (two operations of one history actor overlap),
 * `INVALID_HISTORY`. The message ends with the tail of the server's log when there is one.
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
