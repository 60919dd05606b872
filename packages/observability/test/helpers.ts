// The adapters are judged on the same databases as core's own tests: core's helpers (a fresh
// database on the shared server, opened with the test profile), not a copy of them.
export {
  freshDatabase,
  testDatabase,
  timeOutWaitingForPool,
  withPassword,
} from '../../core/test/helpers.js'
