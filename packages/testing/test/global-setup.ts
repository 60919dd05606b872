import { sluiceGlobalSetup } from '../src/vitest.js'

// The fixture tests start (and break) their own servers; this only proves the setup runs.
export default sluiceGlobalSetup({ postgres: false })
