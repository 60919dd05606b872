import { AsyncLocalStorage } from 'node:async_hooks'
import { parseOptions } from '@sluice/core/internal'
import { z } from 'zod'
import { laterPosition, type Position } from './position.js'
import { formatToken, parseToken } from './token.js'

// Strict: a misspelt key (`atleast`) or a token given as the requirement itself would
// otherwise read with no floor at all, silently stale.
const requirementSchema = z.strictObject(
  {
    // parseToken refuses a bad one with its own typed errors.
    atLeast: z.unknown().optional(),
    maxLagMs: z
      .number({ error: 'must be a number of milliseconds, 0 or more' })
      .min(0, { error: 'must be a number of milliseconds, 0 or more' })
      .optional(),
  },
  { error: 'withConsistency takes an object: { atLeast: token } or { maxLagMs: ms }' },
)

/** What the reads in a scope require; writes in it raise `min` here and in enclosing scopes. */
interface Scope {
  min: Position | undefined
  readonly maxLagMs: number | undefined
  readonly parent: Scope | undefined
}

/** The requirement a read carries, or none. */
export interface ReadRequirement {
  readonly min: Position | undefined
  readonly maxLagMs: number | undefined
}

/**
 * Read-your-writes scopes of one routed database, carried through async calls by
 * AsyncLocalStorage. Scopes nest; a write raises the position of its scope and of every
 * enclosing one, so an outer scope sees what parallel inner branches wrote, and an inner
 * scope sees the outer scope's later writes (it reads the chain at every statement).
 */
export class ConsistencyScopes {
  readonly #storage = new AsyncLocalStorage<Scope>()
  readonly #systemId: () => Promise<string | undefined>
  readonly #knownSystemId: () => string | undefined

  /**
   * @param systemId resolves the cluster's system identifier (after the first replica check)
   * @param knownSystemId the identifier if already known, without waiting
   */
  constructor(
    systemId: () => Promise<string | undefined>,
    knownSystemId: () => string | undefined,
  ) {
    this.#systemId = systemId
    this.#knownSystemId = knownSystemId
  }

  /** Runs `fn` in a session: the current one if there is one, else a new one. */
  session<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#storage.getStore()) return fn()
    return this.#storage.run({ min: undefined, maxLagMs: undefined, parent: undefined }, fn)
  }

  /**
   * Runs `fn` in a nested scope whose reads need at least `atLeast` and at most `maxLagMs`.
   * The requirement and the token are checked before `fn` runs (the token's format, and its
   * cluster once that is known): anything but `{ atLeast?, maxLagMs? }` is a ConfigError.
   */
  async withConsistency<T>(
    requirement: { atLeast?: string; maxLagMs?: number },
    fn: () => Promise<T>,
  ): Promise<T> {
    const { atLeast, maxLagMs } = parseOptions(requirementSchema, requirement)
    let position: Position | undefined
    if (atLeast !== undefined) {
      parseToken(atLeast) // format errors first, without waiting for the cluster
      position = parseToken(atLeast, this.#knownSystemId() ?? (await this.#systemId()))
    }
    const parent = this.#storage.getStore()
    return this.#storage.run(
      {
        min: laterPosition(parent && requirementOf(parent).min, position),
        maxLagMs: minDefined(parent && requirementOf(parent).maxLagMs, maxLagMs),
        parent,
      },
      fn,
    )
  }

  /** The current scope's requirement, or `undefined` outside any scope. */
  current(): ReadRequirement | undefined {
    const scope = this.#storage.getStore()
    return scope && requirementOf(scope)
  }

  /** True inside a scope: writes there must report their position. */
  get tracking(): boolean {
    return this.#storage.getStore() !== undefined
  }

  /** Records a write's position in the current scope and the scopes around it. */
  noteWrite(position: Position): void {
    for (let scope = this.#storage.getStore(); scope; scope = scope.parent) {
      scope.min = laterPosition(scope.min, position)
    }
  }

  /** The current scope's position as a token, once the cluster's system identifier is known. */
  token(): string | undefined {
    const min = this.current()?.min
    const systemId = min?.systemId ?? this.#knownSystemId()
    return min === undefined || systemId === undefined
      ? undefined
      : formatToken({ ...min, systemId })
  }
}

/**
 * A scope's own requirement joined with its parents': an inner scope started before the outer
 * scope wrote again still needs that write.
 */
function requirementOf(scope: Scope): ReadRequirement {
  if (scope.parent === undefined) return scope
  const parent = requirementOf(scope.parent)
  return {
    min: laterPosition(scope.min, parent.min),
    maxLagMs: minDefined(scope.maxLagMs, parent.maxLagMs),
  }
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  return Math.min(a, b)
}
