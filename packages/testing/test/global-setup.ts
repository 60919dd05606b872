import { sluiceGlobalSetup } from '../src/vitest.js'

export default sluiceGlobalSetup({ postgres: { replicas: 0 } })
