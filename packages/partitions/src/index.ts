export type { AnyKysely } from './any-kysely.js'
export {
  addIntervals,
  type Interval,
  intervalStart,
  isoDate,
  type LocalDate,
  localDate,
  startInstant,
} from './calendar.js'
export { listPartitions, type PartitionInfo } from './catalog.js'
export { type CreateOptions, createPartitionedTable } from './create-table.js'
export { PartitionError, type PartitionErrorCode } from './errors.js'
export type { MaintenanceEvent, PartitionInstrumentation } from './events.js'
export { maintenanceStatus } from './metadata.js'
export { type PartitionRange, partitionFor, rangeStarting } from './partition-for.js'
export { type MaintenanceStep, type PlanOptions, planMaintenance, type Statement } from './plan.js'
export { explainPartitions, partitionRange } from './query.js'
export { type MaintenanceResult, type RunOptions, runMaintenance } from './run.js'
export { type MaintenanceSchedule, type ScheduleOptions, startMaintenance } from './schedule.js'
export {
  definePartitions,
  type IndexSpec,
  type PartitionSpec,
  type PartitionSpecInput,
  type RetentionKeep,
  type RetentionMode,
} from './spec.js'
export { RequirePartitionKeyPlugin } from './strict-plugin.js'
