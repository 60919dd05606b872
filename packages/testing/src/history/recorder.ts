import { TestServerError } from '../errors.js'
import { type HandOff, type History, type Operation, overlapping } from './history.js'

const now = () => performance.timeOrigin + performance.now()

/**
 * Records a workload's operations with their start and end times and actors, for
 * {@link readYourWrites} and {@link noStaleReads}. Wrap each operation; an operation that
 * throws is recorded as failed and the error is rethrown. Starting an operation for an actor
 * that has one running is `TestServerError` `OVERLAPPING_OPERATIONS`.
 *
 * @example
 * ```ts
 * const recorder = new HistoryRecorder()
 * await recorder.write('alice', 'post:1', 1, () => service.updatePost('post:1', { version: 1 }))
 * recorder.handOff('alice', 'bob')
 * await recorder.read('bob', 'post:1', async () => (await service.getPost('post:1'))?.version)
 * expect(readYourWrites(recorder.history()).format()).toBe('')
 * ```
 */
export class HistoryRecorder {
  readonly #operations: Operation[] = []
  readonly #handOffs: HandOff[] = []
  readonly #running = new Map<string, Pick<Operation, 'id' | 'kind' | 'key'>>()
  #nextId = 1

  /** Runs `fn`, which writes `version` of `key`, and records it. */
  write<T>(actor: string, key: string, version: number, fn: () => Promise<T>): Promise<T> {
    if (!Number.isFinite(version))
      throw new TestServerError('INVALID_HISTORY', `write of ${key}: version must be a number`)
    return this.#run(actor, 'write', key, fn, () => version)
  }

  /** Runs `fn`, which reads `key` and returns the version it saw (`undefined`: absent). */
  read(
    actor: string,
    key: string,
    fn: () => Promise<number | undefined>,
  ): Promise<number | undefined> {
    return this.#run(actor, 'read', key, fn, (observed) => observed)
  }

  /**
   * Runs `fn`, which invalidates `key` (e.g. a cache delete after a write), and records it.
   * Readers that start after it must see `version`, by default the newest version whose write
   * ended before the invalidation started.
   */
  invalidate<T>(actor: string, key: string, fn: () => Promise<T>, version?: number): Promise<T> {
    return this.#run(actor, 'invalidate', key, fn, () => version)
  }

  /** `from` passes its consistency token to `to` now (call it when `to` receives it). */
  handOff(from: string, to: string): void {
    this.#handOffs.push({ from, to, at: now() })
  }

  /** What was recorded so far (finished operations), as plain data. */
  history(): History {
    return { operations: [...this.#operations], handOffs: [...this.#handOffs] }
  }

  async #run<T>(
    actor: string,
    kind: Operation['kind'],
    key: string,
    fn: () => Promise<T>,
    version: (result: T | undefined) => number | undefined,
  ): Promise<T> {
    const id = this.#nextId++
    const running = this.#running.get(actor)
    if (running) throw overlapping(actor, running, { id, kind, key })
    this.#running.set(actor, { id, kind, key })
    const start = now()
    const record = (ok: boolean, result?: T) =>
      this.#operations.push({
        id,
        actor,
        kind,
        key,
        version: version(result),
        start,
        end: now(),
        ok,
      })
    try {
      const result = await fn()
      record(true, result)
      return result
    } catch (error) {
      record(false)
      throw error
    } finally {
      this.#running.delete(actor)
    }
  }
}
