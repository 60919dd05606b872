import type Cursor from 'pg-cursor'
import { StreamClosedError } from '../errors/errors.js'
import { MAX_TIMER_MS } from '../internal/deadline.js'

/**
 * How long a stream may wait for its consumer's next `next()` by default: 60 s.
 *
 * @internal
 * @example
 * ```ts
 * import { DEFAULT_STREAM_IDLE_TIMEOUT_MS } from '@sluice/core/internal'
 * const idleMs = DEFAULT_STREAM_IDLE_TIMEOUT_MS // 60000
 * ```
 */
export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 60_000

/**
 * The open portal of one `.stream()`, closable from outside the stream: by its idle deadline
 * (the consumer stopped calling `next()` without `return()`), or before the COMMIT or ROLLBACK
 * of the transaction it runs in. Once closed, the stream's next read throws the reason, a
 * {@link StreamClosedError}.
 *
 * @internal
 * @example
 * ```ts
 * const rows = database.db.selectFrom('users').selectAll().stream(100)[Symbol.asyncIterator]()
 * await rows.next() // its portal stays open until the stream ends or its idle deadline passes
 * ```
 */
export class StreamPortal<R> {
  readonly #cursor: Cursor<R>
  readonly #bounded: <T>(work: Promise<T>) => Promise<T>
  readonly #idleMs: number
  readonly #onIdle: (reason: StreamClosedError) => void
  #timer: NodeJS.Timeout | undefined
  #closing: Promise<void> | undefined
  /** Why the portal was closed before the stream finished, if it was. */
  reason: StreamClosedError | undefined

  constructor(
    cursor: Cursor<R>,
    bounded: <T>(work: Promise<T>) => Promise<T>,
    idleMs: number,
    onIdle: (reason: StreamClosedError) => void,
  ) {
    this.#cursor = cursor
    this.#bounded = bounded
    this.#idleMs = Math.min(idleMs, MAX_TIMER_MS)
    this.#onIdle = onIdle
  }

  /** Reads up to `rows` rows, within the client's deadline. */
  read(rows: number): Promise<R[]> {
    return this.#bounded(this.#cursor.read(rows))
  }

  /** The consumer holds a chunk: the idle deadline runs until {@link active}. */
  idle(): void {
    // A new timer each chunk: `refresh()` does not re-arm a timer `clearTimeout` stopped, so
    // only the first chunk would have had a deadline.
    this.#timer = setTimeout(() => this.#expire(), this.#idleMs)
    this.#timer.unref()
  }

  /** The consumer asked for more: stops the idle deadline; throws if the portal was closed. */
  active(): void {
    clearTimeout(this.#timer)
    if (this.reason) throw this.reason
  }

  /**
   * Closes the portal (idempotent), within the client's deadline; `reason` is what the
   * stream's next read throws. After the idle deadline, the connection is destroyed instead.
   */
  close(reason?: StreamClosedError): Promise<void> {
    clearTimeout(this.#timer)
    this.reason ??= reason
    this.#closing ??= this.#bounded(this.#cursor.close())
    return this.#closing
  }

  #expire(): void {
    if (this.reason) return
    this.reason = new StreamClosedError(
      'STREAM_IDLE_TIMEOUT',
      `the stream's consumer did not ask for more rows within ${this.#idleMs} ms; its connection was destroyed`,
    )
    this.#closing = Promise.resolve()
    this.#onIdle(this.reason)
  }
}
