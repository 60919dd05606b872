// The adapters have their own entries (`/prometheus`, `/otel`): each loads only its own
// optional peer (prom-client, @opentelemetry/api).
export { errorType } from './error-type.js'
export { subscribeChannels } from './subscribe-channels.js'
