/**
 * The events of the router, the cache and partition maintenance, as far as core's metrics and
 * tracing adapters read them. Core does not depend on those packages: these are structural
 * shapes their events satisfy, so one adapter object can be given to all of them.
 */

/** A routing decision (`@sluice/router`'s `RouteEvent`). */
export interface RouteEventShape {
  readonly target: string
  readonly reason: string
}

/** A replica status change (`@sluice/router`'s `ReplicaStatusEvent`). */
export interface ReplicaStatusEventShape {
  readonly replica: { readonly label: string }
  readonly from: string
  readonly to: string
}

/** A replica check (`@sluice/router`'s `ReplicaCheckEvent`). */
export interface ReplicaCheckEventShape {
  readonly replica: {
    readonly label: string
    readonly lagMs?: number
    readonly lagBytes?: number
  }
}

/** A cache event (`@sluice/cache`'s `CacheEvent`). */
export interface CacheEventShape {
  readonly kind: string
  readonly tier?: string
  readonly reason?: string
  readonly stored?: boolean
  readonly durationMs?: number
}

/** A partition maintenance event (`@sluice/partitions`' `MaintenanceEvent`). */
export type MaintenanceEventShape =
  | {
      readonly kind: 'run'
      readonly result: {
        readonly status: string
        readonly created: readonly unknown[]
        readonly finalized: readonly unknown[]
        readonly detached: readonly unknown[]
        readonly dropped: readonly unknown[]
        readonly archived: readonly unknown[]
        readonly movedRows: number
        readonly errors: readonly unknown[]
        readonly durationMs: number
      }
    }
  | { readonly kind: 'retry' }
  | { readonly kind: 'error' }

/** A short, low-cardinality name for an error: its SQLSTATE, Sluice code, or class name. */
export function errorType(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const { code, name } = error as { code?: unknown; name?: unknown }
    if (typeof code === 'string' && code.length > 0) return code
    if (typeof name === 'string' && name.length > 0) return name
  }
  return '_OTHER'
}
