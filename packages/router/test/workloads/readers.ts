/** Readers running until a moment, and what they saw so far (live: read it while they run). */
export interface Readers {
  /** Reads that succeeded. */
  reads: number
  /** Errors of the reads that failed. */
  readonly failures: unknown[]
  /** The longest read, in milliseconds. */
  slowestMs: number
  /** Resolves when every reader has stopped. */
  readonly done: Promise<void>
}

/**
 * Starts `count` readers, each running `read(reader)` again and again until `stopAt` (epoch
 * ms), or while `stopAt()` is false. A read that throws counts as failed; the reader goes on.
 */
export function startReaders(
  count: number,
  stopAt: number | (() => boolean),
  read: (reader: number) => Promise<unknown>,
): Readers {
  const stopped = typeof stopAt === 'number' ? () => Date.now() >= stopAt : stopAt
  const readers: Omit<Readers, 'done'> = { reads: 0, failures: [], slowestMs: 0 }
  const done = Promise.all(
    Array.from({ length: count }, async (_, reader) => {
      while (!stopped()) {
        const started = performance.now()
        try {
          await read(reader)
          readers.reads++
        } catch (error) {
          readers.failures.push(error)
        }
        readers.slowestMs = Math.max(readers.slowestMs, performance.now() - started)
      }
    }),
  ).then(() => undefined)
  return Object.assign(readers, { done })
}
