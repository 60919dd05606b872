// The adapters have their own entries (`/prometheus`, `/otel`): each loads only its own
// optional peer (prom-client, @opentelemetry/api).
export { subscribeChannels } from './subscribe-channels.js'
