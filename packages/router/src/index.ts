export { asRead, type Classification } from './classify.js'
export {
  InvalidConsistencyTokenError,
  InvalidStrategyPickError,
  NoReplicaAvailableError,
} from './errors.js'
export type { RoutedDialectOptions, RouterOptions } from './options.js'
export type { ReplicaState, ReplicaStatus } from './replica-state.js'
export {
  type ReplicaCheckEvent,
  type ReplicaStatusEvent,
  type RouteEvent,
  type RouteReason,
  type RouterInstrumentation,
  routerChannels,
} from './route-events.js'
export { createRoutedDatabase, type RoutedDatabase } from './routed-database.js'
export { type RoutedDialect, routedDialect } from './routed-dialect.js'
export type { Routing } from './start-router.js'
export { leastInFlight, type ReplicaStrategy, roundRobin, weighted } from './strategies.js'
