import { sluiceGlobalSetup } from '@sluice/testing/vitest'

// One replica (route and replica events) and Redis (cache events) besides the primary.
export default sluiceGlobalSetup({ postgres: { replicas: 1 }, redis: {} })
