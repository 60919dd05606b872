import type { Instrumentation } from '@sluice/core'
import type { ChannelNames, HookChannels } from '@sluice/core/internal'
import type { Classification } from './classify.js'
import type { ReplicaState, ReplicaStatus } from './replica-state.js'

/**
 * Why a statement went where it went.
 * - `write`: classified as a write (see `classification`).
 * - `read`: a read, served by a replica.
 * - `primary-only`: sent through `database.primary`.
 * - `sticky-primary`: the connection already wrote (inside `db.connection()`), so it stays on the primary.
 * - `transaction` / `read-only-transaction`: the whole transaction runs there.
 * - `fallback`: a read no replica could serve (see `skipped`), sent to the primary.
 * - `retry`: a read retried on another server after a replica-specific failure (see `error`).
 * - `pinned`: inside `db.connection()`, a read on the server the connection already read from.
 * - `reclassified`: a standby refused the statement as a write; it is retried on the primary,
 *   and that statement shape goes there from now on.
 */
export type RouteReason =
  | 'write'
  | 'read'
  | 'primary-only'
  | 'sticky-primary'
  | 'transaction'
  | 'read-only-transaction'
  | 'fallback'
  | 'retry'
  | 'pinned'
  | 'reclassified'

/** One routing decision. */
export interface RouteEvent {
  /** `primary`, `replica-1`, ... */
  readonly target: string
  readonly role: 'primary' | 'replica'
  readonly reason: RouteReason
  /** The classifier's verdict, for statements outside transactions. */
  readonly classification?: Classification['reason']
  /** Why each replica was passed over, e.g. `{ 'replica-1': 'lagging' }`. */
  readonly skipped?: Readonly<Record<string, string>>
  /** The failure that caused a `retry` or a `reclassified`. */
  readonly error?: unknown
}

/** A replica changed status. */
export interface ReplicaStatusEvent {
  readonly replica: ReplicaState
  readonly from: ReplicaStatus
  readonly to: ReplicaStatus
}

/** A replica was checked: its lag as the check found it. */
export interface ReplicaCheckEvent {
  readonly replica: ReplicaState
}

/**
 * Core's hooks plus the router's: every routing decision, every replica status change, and
 * every successful replica check (typed sugar over {@link routerChannels}, for one router).
 * Hooks must be cheap; one that throws never fails a statement (it is reported once, as a
 * `SLUICE_HOOK_ERROR` process warning).
 *
 * @example
 * ```ts
 * const logRouting: RouterInstrumentation = {
 *   onRoute: (event) => event.reason === 'fallback' && console.warn('fallback', event.skipped),
 *   onReplicaStatus: ({ replica, from, to }) => console.info(`${replica.label}: ${from} -> ${to}`),
 * }
 * ```
 */
export interface RouterInstrumentation extends Instrumentation {
  onRoute?(event: RouteEvent): void
  onReplicaStatus?(event: ReplicaStatusEvent): void
  onReplicaCheck?(event: ReplicaCheckEvent): void
}

/** The router's own hooks (core's are published by core). */
export type RouterHooks = Omit<RouterInstrumentation, keyof Instrumentation>

/**
 * The `node:diagnostics_channel` channels the router publishes on, by hook: every routing
 * decision (`RouteEvent`), replica status change (`ReplicaStatusEvent`) and replica check
 * (`ReplicaCheckEvent`) of every router in the process; nothing is built while nobody listens.
 *
 * @example
 * ```ts
 * import { subscribe } from 'node:diagnostics_channel'
 * subscribe(routerChannels.onRoute, (event) => console.log((event as RouteEvent).reason))
 * ```
 */
export const routerChannels = {
  onRoute: 'sluice:route',
  onReplicaStatus: 'sluice:replica:status',
  onReplicaCheck: 'sluice:replica:check',
} as const satisfies ChannelNames<RouterHooks>

/** The router's events: the hooks given, and {@link routerChannels}. */
export type RouterEvents = HookChannels<RouterHooks>
