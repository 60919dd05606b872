export type { AnyKysely } from './any-kysely.js'
export { listPartitions, type PartitionInfo } from './catalog/catalog.js'
export { maintenanceStatus } from './catalog/metadata.js'
export { PartitionError, type PartitionErrorCode } from './errors.js'
export { type CreateOptions, createPartitionedTable } from './maintenance/create-table.js'
export {
  type MaintenanceEvent,
  type PartitionInstrumentation,
  partitionChannels,
} from './maintenance/events.js'
export {
  type MaintenanceStep,
  type PlanOptions,
  planMaintenance,
  type Statement,
} from './maintenance/plan.js'
export { type MaintenanceResult, type RunOptions, runMaintenance } from './maintenance/run.js'
export {
  type MaintenanceSchedule,
  type ScheduleOptions,
  startMaintenance,
} from './maintenance/schedule.js'
export { explainPartitions, partitionRange } from './query/query.js'
export { RequirePartitionKeyPlugin } from './query/strict-plugin.js'
export type { Interval, LocalDate } from './spec/calendar.js'
export { type PartitionRange, partitionFor } from './spec/partition-for.js'
export {
  definePartitions,
  type IndexSpec,
  type PartitionSpec,
  type PartitionSpecInput,
  type RetentionKeep,
  type RetentionMode,
} from './spec/spec.js'
