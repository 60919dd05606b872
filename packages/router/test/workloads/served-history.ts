import { HistoryRecorder, type Operation, readYourWrites } from '@sluice/testing/history'
import { type Kysely, sql } from 'kysely'
import { expect } from 'vitest'

/** Which server answered a read, as the server itself reported it. */
export interface Served {
  /** `inet_server_port()`. */
  readonly port: number
  /** `pg_is_in_recovery()`: true on a standby. */
  readonly standby: boolean
}

/** What a read saw (`undefined`: the key was absent) and which server answered it. */
export interface ServedRead extends Served {
  readonly version: number | undefined
}

/** Select-list items that make a read report the server that answered it. */
export const servedColumns = [
  sql<number>`inet_server_port()`.as('port'),
  sql<boolean>`pg_is_in_recovery()`.as('standby'),
] as const

/** A read of whether `items` has a row named `name` (version 1 when it has). */
export async function readItem<D>(db: Kysely<D>, name: string): Promise<ServedRead> {
  const row = await (db as unknown as Kysely<{ items: { name: string } }>)
    .selectNoFrom((eb) => [
      eb.exists(eb.selectFrom('items').select('name').where('name', '=', name)).as('found'),
      ...servedColumns,
    ])
    .executeTakeFirstOrThrow()
  return { version: row.found ? 1 : undefined, port: row.port, standby: row.standby }
}

/** What a workload's history shows, judged. */
export interface Verdict {
  readonly operations: number
  /** Successful reads. */
  readonly reads: number
  /** Successful reads with no server recorded (none, when every read went through `read`). */
  readonly unserved: number
  /** Operations that threw (a read or a write). */
  readonly failed: readonly Operation[]
  /** `readYourWrites`'s report, each violation with the server that answered the read. */
  readonly report: string
  readonly violations: number
  /** Reads per server label, as the servers reported themselves. */
  readonly servedBy: Readonly<Record<string, number>>
  /** Reads whose server does not match its label (a "replica" out of recovery, say). */
  readonly incoherent: readonly string[]
}

/**
 * A {@link HistoryRecorder} that also keeps, for every read, the server that answered it, so
 * the verdict checks what the servers saw next to what the client saw.
 */
export class ServedHistory {
  readonly #recorder = new HistoryRecorder()
  /** Per actor, the servers of its successful reads in order (an actor is sequential). */
  readonly #served = new Map<string, Served[]>()

  /** Runs `fn`, which writes `version` of `key`, and records it. */
  write<T>(actor: string, key: string, version: number, fn: () => Promise<T>): Promise<T> {
    return this.#recorder.write(actor, key, version, fn)
  }

  /** Runs `fn`, a read of `key`, and records the version it saw and where it ran. */
  read(actor: string, key: string, fn: () => Promise<ServedRead>): Promise<number | undefined> {
    return this.#recorder.read(actor, key, async () => {
      const { version, port, standby } = await fn()
      const served = this.#served.get(actor)
      if (served) served.push({ port, standby })
      else this.#served.set(actor, [{ port, standby }])
      return version
    })
  }

  /** `from` hands its consistency token to `to` now. */
  handOff(from: string, to: string): void {
    this.#recorder.handOff(from, to)
  }

  /** Judges the history with `readYourWrites` and checks each read's server against `labelOf`. */
  verdict(labelOf: (port: number) => string): Verdict {
    const history = this.#recorder.history()
    const servedById = new Map<number, Served>()
    const readsByActor = new Map<string, Operation[]>()
    let reads = 0
    for (const op of history.operations) {
      if (op.kind !== 'read' || !op.ok) continue
      reads++
      const ofActor = readsByActor.get(op.actor)
      if (ofActor) ofActor.push(op)
      else readsByActor.set(op.actor, [op])
    }
    for (const [actor, reads] of readsByActor) {
      const served = this.#served.get(actor) ?? []
      reads.sort((a, b) => a.start - b.start)
      reads.forEach((read, index) => {
        const server = served[index]
        if (server) servedById.set(read.id, server)
      })
    }
    const servedBy: Record<string, number> = {}
    const incoherent: string[] = []
    for (const [id, { port, standby }] of servedById) {
      const label = labelOf(port)
      servedBy[label] = (servedBy[label] ?? 0) + 1
      if (standby !== (label !== 'primary')) {
        incoherent.push(`read #${id}: ${label} answered with pg_is_in_recovery() = ${standby}`)
      }
    }
    const result = readYourWrites(history)
    const where = result.violations.map(
      ({ read }) =>
        `read #${read.id} was answered by ${labelOf(servedById.get(read.id)?.port ?? 0)}`,
    )
    return {
      operations: history.operations.length,
      reads,
      unserved: reads - servedById.size,
      failed: history.operations.filter((op) => !op.ok),
      report: [result.format(), ...where].join('\n'),
      violations: result.violations.length,
      servedBy,
      incoherent,
    }
  }
}

/**
 * Expects a workload's promises kept: no operation failed, no read-your-writes violation, and
 * every read recorded with the server that answered it, a server that is what its label says.
 */
export function expectKept(verdict: Verdict): void {
  expect(verdict.failed, 'failed operations').toEqual([])
  expect(verdict.violations, verdict.report).toBe(0)
  expect(verdict.incoherent).toEqual([])
  expect(verdict.unserved, 'reads with no server recorded').toBe(0)
  expect(verdict.reads).toBeGreaterThan(0)
}
