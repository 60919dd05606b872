export { type CheckResult, noStaleReads, readYourWrites, type Violation } from './checkers.js'
export { type HandOff, type History, type Operation, validateHistory } from './history.js'
export { HistoryRecorder } from './recorder.js'
