import { AsyncLocalStorage } from 'node:async_hooks'
import { ConfigError } from '@sluice/core'
import { formatLsn, parseLsn } from './lsn.js'

/** What the reads in a scope require; writes in it raise `minLsn` here and in enclosing scopes. */
interface Scope {
  minLsn: bigint | undefined
  readonly maxLagMs: number | undefined
  readonly parent: Scope | undefined
}

/** The requirement a read carries, or none. */
export interface ReadRequirement {
  readonly minLsn: bigint | undefined
  readonly maxLagMs: number | undefined
}

/**
 * Read-your-writes scopes of one routed database, carried through async calls by
 * AsyncLocalStorage.
 */
export class ConsistencyScopes {
  readonly #storage = new AsyncLocalStorage<Scope>()

  /** Runs `fn` in a session: the current one if there is one, else a new one. */
  session<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#storage.getStore()) return fn()
    return this.#storage.run({ minLsn: undefined, maxLagMs: undefined, parent: undefined }, fn)
  }

  /** Runs `fn` in a nested scope whose reads need at least `atLeast` and at most `maxLagMs`. */
  async withConsistency<T>(
    requirement: { atLeast?: string; maxLagMs?: number },
    fn: () => Promise<T>,
  ): Promise<T> {
    const parent = this.#storage.getStore()
    const atLeast = requirement.atLeast === undefined ? undefined : parseLsn(requirement.atLeast)
    const { maxLagMs } = requirement
    if (maxLagMs !== undefined && !(Number.isFinite(maxLagMs) && maxLagMs >= 0)) {
      throw new ConfigError([
        { field: 'maxLagMs', message: 'must be a number of milliseconds, 0 or more' },
      ])
    }
    return this.#storage.run(
      {
        minLsn: maxLsn(parent?.minLsn, atLeast),
        maxLagMs: minDefined(parent?.maxLagMs, requirement.maxLagMs),
        parent,
      },
      fn,
    )
  }

  /** The current scope's requirement, or `undefined` outside any scope. */
  current(): ReadRequirement | undefined {
    return this.#storage.getStore()
  }

  /** True inside a scope: writes there must report their commit LSN. */
  get tracking(): boolean {
    return this.#storage.getStore() !== undefined
  }

  /** Records a write's commit LSN in the current scope and the scopes around it. */
  noteWrite(lsn: string): void {
    const value = parseLsn(lsn)
    for (let scope = this.#storage.getStore(); scope; scope = scope.parent) {
      scope.minLsn = maxLsn(scope.minLsn, value)
    }
  }

  /** The current scope's LSN as a token string. */
  token(): string | undefined {
    const lsn = this.#storage.getStore()?.minLsn
    return lsn === undefined ? undefined : formatLsn(lsn)
  }
}

function maxLsn(a: bigint | undefined, b: bigint | undefined): bigint | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  return a > b ? a : b
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  return Math.min(a, b)
}
