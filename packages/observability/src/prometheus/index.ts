export {
  type PrometheusInstrumentation,
  type PrometheusOptions,
  prometheusInstrumentation,
} from './prometheus-instrumentation.js'
