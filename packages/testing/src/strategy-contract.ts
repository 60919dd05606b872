// Typed against the router's own interface (a type-only import: no runtime dependency on it).
import type { ReplicaState, ReplicaStrategy } from '@sluice/router'
import { describe, expect, test } from 'vitest'
import { seededRandom } from './faults/seeded-random.js'

/** What the contract feeds a strategy: the labels it is configured with. */
export interface StrategyContractOptions {
  /** Replica labels passed to `init` and used in the candidate lists (default: three replicas). */
  readonly labels?: readonly string[]
  /** Picks per test (default 2,000). */
  readonly picks?: number
  /**
   * The strategy chooses alike for the same candidate lists (default true). Set false for one
   * that picks at random: then only that each instance keeps to its candidates is checked.
   */
  readonly deterministic?: boolean
}

/**
 * The behaviour every `ReplicaStrategy` of `@sluice/router` must have, as a vitest suite: run
 * it against each implementation (your own included). `strategy()` returns a fresh instance;
 * the router calls `init` once with the replica labels, then `pick` on every read with the
 * replicas that may serve it, so `pick` must return an index into that list, synchronously,
 * without throwing or changing the candidates, whatever the list holds (one replica, replicas
 * coming and going, any in-flight and lag values), and two instances must not interfere.
 *
 * @example
 * ```ts
 * import { replicaStrategyContract } from '@sluice/testing/strategy'
 * import { weighted } from '@sluice/router'
 * replicaStrategyContract('weighted', () => weighted({ 'replica-1': 3 }))
 * ```
 */
export function replicaStrategyContract(
  name: string,
  strategy: () => ReplicaStrategy,
  options: StrategyContractOptions = {},
): void {
  const labels = options.labels ?? ['replica-1', 'replica-2', 'replica-3']
  const picks = options.picks ?? 2000
  const started = () => {
    const subject = strategy()
    subject.init?.(labels)
    return subject
  }

  describe(`ReplicaStrategy contract: ${name}`, () => {
    test('has a name and takes the configured labels', () => {
      const subject = strategy()
      expect(typeof subject.name).toBe('string')
      expect(subject.name.length).toBeGreaterThan(0)
      expect(() => subject.init?.(labels)).not.toThrow()
    })

    test('picks an index into the candidates, synchronously, for every list the router may pass', () => {
      const subject = started()
      const random = seededRandom(7)
      for (let i = 0; i < picks; i++) {
        const candidates = candidateList(labels, random)
        const index = subject.pick(candidates)
        expect(Number.isInteger(index), `pick returned ${String(index)}`).toBe(true)
        expect(index).toBeGreaterThanOrEqual(0)
        expect(index).toBeLessThan(candidates.length)
      }
    })

    test('a single candidate is always chosen', () => {
      const subject = started()
      for (const label of labels) expect(subject.pick([state(label, 0)])).toBe(0)
    })

    test('never changes the candidates (they are frozen: a write throws)', () => {
      const subject = started()
      const random = seededRandom(11)
      for (let i = 0; i < picks / 10; i++) {
        const candidates = Object.freeze(candidateList(labels, random).map((c) => Object.freeze(c)))
        expect(() => subject.pick(candidates)).not.toThrow()
      }
    })

    test('two instances do not interfere', () => {
      const [a, b, alone] = [started(), started(), started()]
      const random = seededRandom(13)
      const lists = Array.from({ length: picks / 10 }, () => candidateList(labels, random))
      const expected = lists.map((list) => alone.pick(list))
      const seen = lists.map((list) => {
        b.pick(list)
        return a.pick(list)
      })
      // Interleaved with another instance, `a` chooses as an instance alone does.
      if (options.deterministic ?? true) expect(seen).toEqual(expected)
      for (const [i, index] of seen.entries())
        expect(index).toBeLessThan((lists[i] as ReplicaState[]).length)
    })
  })
}

/** A non-empty subset of the replicas, in configuration order, with random load and lag. */
function candidateList(labels: readonly string[], random: () => number): ReplicaState[] {
  const chosen = labels.filter(() => random() < 0.6)
  const list = chosen.length > 0 ? chosen : [labels[Math.floor(random() * labels.length)] as string]
  return list.map((label) => state(label, Math.floor(random() * 50), random() * 2000))
}

function state(label: string, inFlight: number, lagMs?: number): ReplicaState {
  return {
    label,
    address: `127.0.0.1:5432/${label}`,
    status: 'up',
    inFlight,
    reads: 0,
    ...(lagMs === undefined ? {} : { lagMs, lagBytes: Math.round(lagMs * 100) }),
  }
}
