export {
  type OtelInstrumentation,
  type OtelOptions,
  otelInstrumentation,
} from './otel-instrumentation.js'
