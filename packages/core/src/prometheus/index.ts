export type {
  CacheEventShape,
  MaintenanceEventShape,
  ReplicaCheckEventShape,
  ReplicaStatusEventShape,
  RouteEventShape,
} from '../instrumentation/package-events.js'
export {
  type PrometheusInstrumentation,
  type PrometheusOptions,
  prometheusInstrumentation,
} from './prometheus-instrumentation.js'
