import { ConfigError } from '@sluice/core'
import type { ReplicaState } from './replica-state.js'

/**
 * Chooses which replica serves a read. `pick` gets the replicas that may serve it right now
 * (healthy, within the lag bounds, caught up with the session) and returns the index of one.
 * It is called on every read, so it must be cheap and must not throw.
 *
 * @example
 * ```ts
 * const nearestFirst: ReplicaStrategy = {
 *   name: 'nearest-first',
 *   pick: (candidates) => Math.max(0, candidates.findIndex((r) => r.label === 'replica-1')),
 * }
 * createRoutedDatabase(config, { strategy: nearestFirst })
 * ```
 */
export interface ReplicaStrategy {
  readonly name: string
  /** Called once with the configured replica labels; may throw a `ConfigError`. */
  init?(labels: readonly string[]): void
  pick(candidates: readonly ReplicaState[]): number
}

/**
 * Round-robin over the candidates (the default).
 *
 * @example
 * ```ts
 * createRoutedDatabase(config, { strategy: roundRobin() })
 * ```
 */
export function roundRobin(): ReplicaStrategy {
  let next = 0
  return {
    name: 'round-robin',
    pick: (candidates) => next++ % candidates.length,
  }
}

/**
 * The candidate with the fewest reads in flight (a read counts from the moment it is routed,
 * so reads queued for a replica's pooled connections count too); ties go round-robin.
 *
 * @example
 * ```ts
 * createRoutedDatabase(config, { strategy: leastInFlight() })
 * ```
 */
export function leastInFlight(): ReplicaStrategy {
  let offset = 0
  return {
    name: 'least-in-flight',
    pick: (candidates) => {
      const start = offset++ % candidates.length
      let best = start
      for (let step = 1; step < candidates.length; step++) {
        const index = (start + step) % candidates.length
        if (
          (candidates[index] as ReplicaState).inFlight < (candidates[best] as ReplicaState).inFlight
        )
          best = index
      }
      return best
    },
  }
}

/**
 * Smooth weighted round-robin (as nginx does it): with weights `{ 'replica-1': 3,
 * 'replica-2': 1 }`, replica-1 serves 3 reads of every 4, interleaved. Replicas left out
 * weigh 1. When a replica is unavailable, the others share its reads by their weights.
 *
 * @throws ConfigError when a weight is not a positive finite number or names no replica.
 * @example
 * ```ts
 * createRoutedDatabase(config, { strategy: weighted({ 'replica-1': 3, 'replica-2': 1 }) })
 * ```
 */
export function weighted(weights: Readonly<Record<string, number>>): ReplicaStrategy {
  const bad = Object.entries(weights).filter(([, w]) => !(Number.isFinite(w) && w > 0))
  if (bad.length > 0) {
    throw new ConfigError(
      bad.map(([label]) => ({ field: `weights.${label}`, message: 'must be a positive number' })),
    )
  }
  const current = new Map<string, number>()
  return {
    name: 'weighted',
    init(labels) {
      const unknown = Object.keys(weights).filter((label) => !labels.includes(label))
      if (unknown.length > 0) {
        throw new ConfigError(
          unknown.map((label) => ({ field: `weights.${label}`, message: 'names no replica' })),
        )
      }
    },
    pick(candidates) {
      let total = 0
      let best = 0
      let bestScore = Number.NEGATIVE_INFINITY
      candidates.forEach((candidate, index) => {
        const weight = weights[candidate.label] ?? 1
        const score = (current.get(candidate.label) ?? 0) + weight
        current.set(candidate.label, score)
        total += weight
        if (score > bestScore) {
          bestScore = score
          best = index
        }
      })
      const chosen = (candidates[best] as ReplicaState).label
      current.set(chosen, bestScore - total)
      return best
    },
  }
}
