/** Readers running until a moment, and what they saw so far (live: read it while they run). */
export interface Readers {
  /** Readers that have started reading (all of them at once unless they ramp up). */
  active: number
  /** Reads that succeeded. */
  reads: number
  /** Errors of the reads that failed. */
  readonly failures: unknown[]
  /** Resolves when every reader has stopped. */
  readonly done: Promise<void>
}

/** Options of {@link startReaders}. */
export interface ReadersOptions {
  /**
   * Readers join gradually, as requests arrive at a service that has just started, instead of
   * all in the same tick: at most `ramp` of them are on their first read at once (reader `i`
   * starts when reader `i - ramp` has finished its first). The pools then open connections a
   * few at a time as the load grows, not one per reader at once: a herd of cold logins through
   * PgBouncer that a loaded machine cannot answer within the connect deadline. Default: all at
   * once.
   */
  readonly ramp?: number
}

/**
 * Starts `count` readers, each running `read(reader)` again and again until `stopAt` (epoch
 * ms), or while `stopAt()` is false. A read that throws counts as failed; the reader goes on.
 */
export function startReaders(
  count: number,
  stopAt: number | (() => boolean),
  read: (reader: number) => Promise<unknown>,
  options: ReadersOptions = {},
): Readers {
  const stopped = typeof stopAt === 'number' ? () => Date.now() >= stopAt : stopAt
  const readers: Omit<Readers, 'done'> = { active: 0, reads: 0, failures: [] }
  const ramp = options.ramp ?? count
  const firstReads: Promise<void>[] = []
  const done = Promise.all(
    Array.from({ length: count }, async (_, reader) => {
      let firstRead = () => {}
      firstReads.push(
        new Promise((resolve) => {
          firstRead = resolve
        }),
      )
      await firstReads[reader - ramp]
      readers.active++
      while (!stopped()) {
        try {
          await read(reader)
          readers.reads++
        } catch (error) {
          readers.failures.push(error)
        }
        firstRead()
      }
      firstRead()
    }),
  ).then(() => undefined)
  return Object.assign(readers, { done })
}
