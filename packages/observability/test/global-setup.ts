import { sluiceGlobalSetup } from '@sluice/testing/vitest'

export default sluiceGlobalSetup({ postgres: { replicas: 0 } })
