import { sluiceGlobalSetup } from '../src/vitest.js'

// Most fixture tests start (and break) their own servers. These shared ones prove that the
// controls work from a test file on servers the global setup started (shared-controls.test.ts).
export default sluiceGlobalSetup({
  postgres: { replicas: 1, proxied: true },
  redis: { proxied: true },
})
