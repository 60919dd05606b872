export type { CacheEventShape, RouteEventShape } from '../instrumentation/package-events.js'
export {
  type OtelInstrumentation,
  type OtelOptions,
  otelInstrumentation,
} from './otel-instrumentation.js'
