import { sluiceGlobalSetup } from '@sluice/testing/vitest'

// Router tests break servers (pause, kill, promote), so each file starts its own cluster.
export default sluiceGlobalSetup({ postgres: false })
